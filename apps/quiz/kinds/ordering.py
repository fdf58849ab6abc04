"""Ordering: put the items in order. The file lists the choices in the right order and gives no ``answer``.

Each variant (one attempt of one student) shows its own fixed shuffle; the form gives each item a position
(``position-<i>``, 1-based), and the response is the items by position, ``{"order": [i, …]}``: right when it is ``0, 1, …, n-1``.
"""

from __future__ import annotations

from typing import Any

from apps.quiz.kinds.base import AnswerKeyError, Form, InvalidResponse, QuestionKind, shuffle


class Ordering(QuestionKind):
    name = "ordering"
    label = "Ordering"
    keyed = False

    def check_key(self, *, answer: dict[str, Any], choices: list[str]) -> None:
        if len(choices) < 2:
            raise AnswerKeyError("an ordering question lists at least two choices, in the right order")

    def parse(self, *, data: Form, n_choices: int) -> dict[str, Any]:
        """Item i (in the right-order numbering) was given the position ``position-i``; the items by position."""
        positions = {}
        for item in range(n_choices):
            raw = str(data.get(f"position-{item}") or "").strip()
            if not raw.isdigit() or not 1 <= int(raw) <= n_choices:
                raise InvalidResponse(f"Give every item a position from 1 to {n_choices}.")
            positions[item] = int(raw)
        if sorted(positions.values()) != list(range(1, n_choices + 1)):
            raise InvalidResponse("Use each position once.")
        return {"order": sorted(range(n_choices), key=lambda item: positions[item])}

    def score(self, *, answer: dict[str, Any], response: dict[str, Any]) -> bool:
        return response.get("order") == list(range(len(response.get("order", []))))

    def order(self, *, seed: str, n: int) -> list[int]:
        """A fixed shuffle per variant (a reload keeps it) that is never the right order (for 2+ items)."""
        order = shuffle(seed=seed, n=n)
        if order == sorted(order) and len(order) > 1:
            order = order[1:] + order[:1]
        return order


KIND = Ordering()
