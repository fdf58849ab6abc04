"""True / false: one statement, right or wrong. Key ``{value: true}``; response ``{"value": bool}``."""

from __future__ import annotations

from typing import Any

from apps.quiz.kinds.base import AnswerKeyError, Form, InvalidResponse, QuestionKind


class TrueFalse(QuestionKind):
    name = "true_false"
    label = "True / false"

    def check_key(self, *, answer: dict[str, Any], choices: list[str]) -> None:
        if not isinstance(answer.get("value"), bool):
            raise AnswerKeyError("a true_false answer is {value: true} or {value: false}")

    def parse(self, *, data: Form, n_choices: int) -> dict[str, Any]:
        raw = str(data.get("answer") or "").strip()
        if raw not in {"true", "false"}:
            raise InvalidResponse("Choose True or False.")
        return {"value": raw == "true"}


KIND = TrueFalse()
