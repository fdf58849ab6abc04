"""Structured logs: one JSON object per line, carrying the grading run (and attempt) being worked on.

``run_context(run_id, attempt)`` sets the run for everything logged inside it (a contextvar: safe across threads
and tasks); ``RunFilter`` copies it onto every record; ``JsonFormatter`` writes the line. Plain text stays the
default for a terminal (``MEMLAB_LOG_FORMAT=json`` in production, as docker-compose sets it).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import json
import logging
from collections.abc import Iterator

_run: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar("memlab_run", default=None)


@contextlib.contextmanager
def run_context(run_id: int, attempt: int | None = None) -> Iterator[None]:
    token = _run.set((run_id, attempt or 0))
    try:
        yield
    finally:
        _run.reset(token)


class RunFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        current = _run.get()
        record.run_id, record.attempt = current if current is not None else (None, None)
        record.run = (
            f" [run {current[0]}/{current[1]}]" if current is not None else ""
        )  # for the plain format
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if getattr(record, "run_id", None) is not None:
            line["run_id"], line["attempt"] = record.run_id, record.attempt  # type: ignore[attr-defined]
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)
