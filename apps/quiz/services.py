from __future__ import annotations

from collections.abc import Mapping

from django.db import transaction

from apps.accounts.models import User
from apps.quiz.models import Attempt, Question
from apps.quiz.scoring import is_correct, parse_response


@transaction.atomic
def attempt_create(*, user: User, question: Question, data: Mapping[str, str]) -> Attempt:
    """Score one answer and record it. Raises InvalidResponse (nothing stored) for a malformed answer."""
    response = parse_response(kind=question.kind, data=data, n_choices=len(question.choices))
    correct = is_correct(answer=question.answer, response=response)
    return Attempt.objects.create(user=user, question=question, response=response, correct=correct)
