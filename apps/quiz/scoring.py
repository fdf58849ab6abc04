"""Parsing a posted answer and scoring it: the question's kind (``apps.quiz.kinds``) does both.

These two entry points keep the names the services and tests call; each kind module documents its answer key and
response. ``InvalidResponse`` and ``Form`` are the kinds' own, re-exported for the same callers.
"""

from __future__ import annotations

from typing import Any

from apps.quiz import kinds
from apps.quiz.kinds import Form, InvalidResponse

__all__ = ["Form", "InvalidResponse", "is_correct", "parse_response"]


def parse_response(*, kind: str, data: Form, n_choices: int) -> dict[str, Any]:
    found = kinds.find(kind)
    if found is None:  # a question stored under a kind that is no longer registered
        raise InvalidResponse(f"Questions of kind {kind!r} cannot be answered here yet.")
    return found.parse(data=data, n_choices=n_choices)


def is_correct(*, kind: str, answer: dict[str, Any], response: dict[str, Any]) -> bool:
    found = kinds.find(kind)
    if found is None:  # nothing to ask: the plain rule, the key and the response are equal
        return dict(answer) == dict(response)
    return found.score(answer=answer, response=response)
