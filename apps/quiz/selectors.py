from __future__ import annotations

from dataclasses import dataclass

from apps.accounts.models import User
from apps.course.models import Concept
from apps.quiz.models import Attempt, Question


@dataclass(frozen=True)
class QuestionView:
    question: Question
    last_attempt: Attempt | None


def question_list_for_concept(*, concept: Concept, user: User) -> list[QuestionView]:
    questions = list(concept.questions.all())
    latest: dict[int, Attempt] = {}
    for attempt in Attempt.objects.filter(user=user, question__in=questions).order_by("created_at"):
        latest[attempt.question_id] = attempt
    return [QuestionView(question=q, last_attempt=latest.get(q.pk)) for q in questions]
