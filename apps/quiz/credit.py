"""Attempts and partial credit: how many tries a question allows and what each is worth (no Django here).

A question sets ``max_attempts`` (a positive number, or None for unlimited; 3 by default) and ``credit``, the
share of the question each attempt is worth in order (``[1.0, 0.5, 0.25]`` by default; attempts past the end of
the list are worth its last value). Every attempt counts: a wrong answer, and a give-up ("Show the answer"),
whose variant scores nothing. A question's score is the credit of the first correct attempt, 0 if none came
within ``max_attempts``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_CREDIT = (1.0, 0.5, 0.25)


def default_credit() -> list[float]:
    """``Question.credit``'s default (a callable: a JSON field must not share one list)."""
    return list(DEFAULT_CREDIT)


def worth(credit: Sequence[float], number: int) -> float:
    """What attempt ``number`` (1-based) earns if it is right."""
    if not credit:
        return 1.0
    return float(credit[min(number, len(credit)) - 1])


def question_score(correct: Sequence[bool], *, max_attempts: int | None, credit: Sequence[float]) -> float:
    """The score (0..1) of one student's attempts at a question, in order (a give-up is a wrong one)."""
    counted = correct if max_attempts is None else correct[:max_attempts]
    for number, right in enumerate(counted, start=1):
        if right:
            return worth(credit, number)
    return 0.0


@dataclass(frozen=True)
class Standing:
    """Where one student stands on one question after ``attempts`` tries."""

    attempts: int  # made so far
    solved: bool
    max_attempts: int | None
    credit: tuple[float, ...]
    score: float

    @property
    def number(self) -> int:
        """The number of the next attempt (1-based)."""
        return self.attempts + 1

    @property
    def left(self) -> int | None:
        return None if self.max_attempts is None else max(self.max_attempts - self.attempts, 0)

    @property
    def done(self) -> bool:
        """Solved, or no attempt left: the form takes no more answers."""
        return self.solved or self.left == 0

    @property
    def worth_percent(self) -> int:
        """What the next attempt earns if right, in percent."""
        return round(100 * worth(self.credit, self.number))

    @property
    def score_percent(self) -> int:
        return round(100 * self.score)


def standing(correct: Sequence[bool], *, max_attempts: int | None, credit: Sequence[float]) -> Standing:
    counted = correct if max_attempts is None else correct[:max_attempts]
    return Standing(
        attempts=len(correct),
        solved=any(counted),
        max_attempts=max_attempts,
        credit=tuple(credit),
        score=question_score(correct, max_attempts=max_attempts, credit=credit),
    )
