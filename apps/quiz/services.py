from __future__ import annotations

from django.db import transaction

from apps.accounts.models import User
from apps.quiz.models import Attempt, Question
from apps.quiz.scoring import Form, is_correct, parse_response
from apps.quiz.selectors import question_shown


@transaction.atomic
def attempt_create(*, user: User, question: Question, data: Form) -> Attempt:
    """Score one answer against this student's variant and record it. Raises InvalidResponse (nothing stored)
    for a malformed answer."""
    shown = question_shown(question=question, user=user)
    response = parse_response(kind=question.kind, data=data, n_choices=len(question.choices))
    correct = is_correct(kind=question.kind, answer=shown.answer, response=response)
    return Attempt.objects.create(
        user=user, question=question, response=response, variant=shown.variant, correct=correct
    )
