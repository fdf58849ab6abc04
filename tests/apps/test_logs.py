"""Structured logs: JSON lines that carry the run a worker is grading."""

from __future__ import annotations

import io
import json
import logging

from config.logs import JsonFormatter, RunFilter, run_context


def _capture(logger: logging.Logger) -> tuple[io.StringIO, logging.Handler]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RunFilter())
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    return stream, handler


def test_a_line_inside_a_run_carries_its_id_and_attempt() -> None:
    logger = logging.getLogger("memlab.test")
    logger.setLevel(logging.INFO)
    stream, handler = _capture(logger)
    try:
        logger.info("outside")
        with run_context(42, 2):
            logger.info("inside %s", "a run")
        logger.info("after")
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines] == ["outside", "inside a run", "after"]
    assert "run_id" not in lines[0] and "run_id" not in lines[2]
    assert lines[1]["run_id"] == 42 and lines[1]["attempt"] == 2 and lines[1]["level"] == "INFO"


def test_the_grading_task_logs_with_the_run_id(db) -> None:  # type: ignore[no-untyped-def]
    from apps.lab.tasks import grade_run

    logger = logging.getLogger("apps.lab.tasks")
    logger.setLevel(logging.INFO)
    stream, handler = _capture(logger)
    try:
        grade_run.run(987654)  # no such run: nothing to claim, said with the run's id
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["run_id"] == 987654 and "not queued" in line["message"]
