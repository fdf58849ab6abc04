"""Single choice: one right option among the choices. Key ``{choice: i}``; response ``{"choice": i}``."""

from __future__ import annotations

from typing import Any

from apps.quiz.kinds.base import AnswerKeyError, Form, InvalidResponse, QuestionKind, is_choice_index, shuffle


class SingleChoice(QuestionKind):
    name = "single_choice"
    label = "Single choice"

    def check_key(self, *, answer: dict[str, Any], choices: list[str]) -> None:
        if not is_choice_index(answer.get("choice"), len(choices)):
            raise AnswerKeyError("a single_choice answer is {choice: N} with N an index into choices")

    def parse(self, *, data: Form, n_choices: int) -> dict[str, Any]:
        raw = str(data.get("answer") or "").strip()
        if not raw.isdigit() or not 0 <= int(raw) < n_choices:
            raise InvalidResponse("Choose one of the options.")
        return {"choice": int(raw)}

    def order(self, *, seed: str, n: int) -> list[int]:
        """Shuffled per variant: a new attempt shows the options in a new order, a reload in the same one."""
        return shuffle(seed=seed, n=n)


KIND = SingleChoice()
