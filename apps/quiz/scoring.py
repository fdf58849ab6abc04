"""Parsing a posted answer and scoring it: pure functions of the question's kind and answer key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class InvalidResponse(ValueError):
    """The posted data is not an answer to this question (message is shown to the student)."""


def parse_response(*, kind: str, data: Mapping[str, str], n_choices: int) -> dict[str, Any]:
    raw = (data.get("answer") or "").strip()
    if kind == "true_false":
        if raw not in {"true", "false"}:
            raise InvalidResponse("Choose True or False.")
        return {"value": raw == "true"}
    if kind == "single_choice":
        if not raw.isdigit() or not 0 <= int(raw) < n_choices:
            raise InvalidResponse("Choose one of the options.")
        return {"choice": int(raw)}
    raise InvalidResponse(f"Questions of kind {kind!r} cannot be answered here yet.")


def is_correct(*, answer: Mapping[str, Any], response: Mapping[str, Any]) -> bool:
    return dict(answer) == dict(response)
