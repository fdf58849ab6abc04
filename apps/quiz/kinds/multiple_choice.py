"""Multiple choice: tick every option that applies. Key ``{choices: [i, …]}``; response ``{"choices": [i, …]}``.

Right only for exactly the right set: a student who ticks everything gets no credit.
"""

from __future__ import annotations

from typing import Any

from apps.quiz.kinds.base import AnswerKeyError, Form, InvalidResponse, QuestionKind, is_choice_index, shuffle


class MultipleChoice(QuestionKind):
    name = "multiple_choice"
    label = "Multiple choice"

    def check_key(self, *, answer: dict[str, Any], choices: list[str]) -> None:
        picked = answer.get("choices")
        if (
            not isinstance(picked, list)
            or not picked
            or not all(is_choice_index(x, len(choices)) for x in picked)
        ):
            raise AnswerKeyError("a multiple_choice answer is {choices: [i, j, ...]}, indices into choices")

    def parse(self, *, data: Form, n_choices: int) -> dict[str, Any]:
        picked = {str(v) for v in data.getlist("answer")}
        if not picked or not all(v.isdigit() and 0 <= int(v) < n_choices for v in picked):
            raise InvalidResponse("Tick every option that applies (at least one).")
        return {"choices": sorted(int(v) for v in picked)}

    def score(self, *, answer: dict[str, Any], response: dict[str, Any]) -> bool:
        return sorted(response.get("choices", [])) == sorted(answer.get("choices", []))

    def order(self, *, seed: str, n: int) -> list[int]:
        """Shuffled per variant: a new attempt shows the options in a new order, a reload in the same one."""
        return shuffle(seed=seed, n=n)


KIND = MultipleChoice()
