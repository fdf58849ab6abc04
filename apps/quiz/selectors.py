from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from apps.accounts.models import User
from apps.quiz import kinds
from apps.quiz.kinds import QuestionKind
from apps.quiz.models import Attempt, Question
from apps.quiz.variants import Shown, shown

if TYPE_CHECKING:  # the type only: quiz sits below course and never imports it
    from apps.course.models import Concept


@dataclass(frozen=True)
class QuestionView:
    question: Question
    last_attempt: Attempt | None
    shown: Shown  # this student's variant: stem, choices and explanation with its numbers
    history: tuple[bool, ...] = ()  # right or wrong, every attempt in order

    @property
    def kind(self) -> QuestionKind | None:
        """The question's kind (its ``template`` renders the answer inputs); None for one no longer registered."""
        return kinds.find(self.question.kind)

    @property
    def items(self) -> list[tuple[int, str]]:
        """(choice index, text) in the order shown: a student's own shuffle for an ordering question."""
        return [(i, self.shown.choices[i]) for i in self.shown.order]

    @property
    def picked(self) -> list[int]:
        """What the last attempt ticked (multiple choice)."""
        return list(self.last_attempt.response.get("choices", [])) if self.last_attempt else []

    @property
    def typed(self) -> str:
        """The last typed number, vector or matrix, as the student could type it again."""
        if not self.last_attempt or "value" not in self.last_attempt.response:
            return ""
        value = self.last_attempt.response["value"]
        if isinstance(value, list):
            rows = value if value and isinstance(value[0], list) else [value]
            return "; ".join(", ".join(f"{x:g}" for x in row) for row in rows)
        return f"{value:g}" if isinstance(value, float) else ""

    @property
    def positions(self) -> dict[int, int]:
        """Choice index -> the position the last attempt gave it (ordering)."""
        order = self.last_attempt.response.get("order", []) if self.last_attempt else []
        return {item: rank + 1 for rank, item in enumerate(order)}


def question_shown(*, question: Question, user: User) -> Shown:
    return shown(
        user_id=user.pk,
        slug=question.slug,
        kind=question.kind,
        stem=question.stem,
        choices=list(question.choices),
        explanation=question.explanation,
        answer=dict(question.answer),
        variants=list(question.variants),
    )


def question_view(*, question: Question, user: User, last_attempt: Attempt | None) -> QuestionView:
    history = tuple(
        Attempt.objects.filter(user=user, question=question)
        .order_by("created_at")
        .values_list("correct", flat=True)
    )
    return QuestionView(question, last_attempt, question_shown(question=question, user=user), history)


def question_list_for_concept(*, concept: Concept, user: User) -> list[QuestionView]:
    questions = list(concept.questions.all())
    latest: dict[int, Attempt] = {}
    history: dict[int, list[bool]] = {}
    for attempt in Attempt.objects.filter(user=user, question__in=questions).order_by("created_at"):
        latest[attempt.question_id] = attempt
        history.setdefault(attempt.question_id, []).append(attempt.correct)
    return [
        QuestionView(q, latest.get(q.pk), question_shown(question=q, user=user), tuple(history.get(q.pk, [])))
        for q in questions
    ]
