"""Vector or matrix: typed numbers, right within a tolerance and of the right shape.

Key ``{value: [..] or [[..], ..], rtol, atol}``; response ``{"value": [..] or [[..], ..]}``. Randomizable like
``numeric``.
"""

from __future__ import annotations

from typing import Any

from apps.quiz.kinds import numbers
from apps.quiz.kinds.base import AnswerKeyError, Form, QuestionKind


class Vector(QuestionKind):
    name = "vector"
    label = "Vector or matrix"
    randomizable = True

    def check_key(self, *, answer: dict[str, Any], choices: list[str]) -> None:
        if not numbers.is_array(answer.get("value")):
            raise AnswerKeyError("a vector answer is {value: [..]} or {value: [[..], [..]]}")

    def parse(self, *, data: Form, n_choices: int) -> dict[str, Any]:
        return {"value": numbers.parse_array(str(data.get("answer") or "").strip())}

    def score(self, *, answer: dict[str, Any], response: dict[str, Any]) -> bool:
        return numbers.close_to_key(answer=answer, response=response)


KIND = Vector()
