"""Numeric: one typed number, right within a tolerance. Key ``{value: x, rtol, atol}``; response ``{"value": x}``.

Randomizable: a generator (``apps.quiz.generators``) gives each variant its own numbers and key.
"""

from __future__ import annotations

from typing import Any

from apps.quiz.kinds import numbers
from apps.quiz.kinds.base import AnswerKeyError, Form, QuestionKind


class Numeric(QuestionKind):
    name = "numeric"
    label = "Number"
    randomizable = True

    def check_key(self, *, answer: dict[str, Any], choices: list[str]) -> None:
        if not numbers.is_number(answer.get("value")):
            raise AnswerKeyError("a numeric answer is {value: x} (optional rtol, atol)")

    def parse(self, *, data: Form, n_choices: int) -> dict[str, Any]:
        return {"value": numbers.parse_number(str(data.get("answer") or "").strip())}

    def score(self, *, answer: dict[str, Any], response: dict[str, Any]) -> bool:
        return numbers.close_to_key(answer=answer, response=response)


KIND = Numeric()
