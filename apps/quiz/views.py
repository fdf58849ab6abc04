from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from apps.quiz.models import Question
from apps.quiz.scoring import InvalidResponse
from apps.quiz.selectors import question_view
from apps.quiz.services import attempt_create


@login_required
@require_POST
def answer(request, slug: str):  # type: ignore[no-untyped-def]
    question = get_object_or_404(Question, slug=slug)
    error, attempt = "", None
    try:
        attempt = attempt_create(user=request.user, question=question, data=request.POST)
    except InvalidResponse as exc:
        error = str(exc)
    item = question_view(question=question, user=request.user, last_attempt=attempt)
    context = {"item": item, "error": error}
    # htmx swaps just the question; without JavaScript the same card is shown on a page of its own.
    template = "quiz/question_page.html#question" if request.htmx else "quiz/question_page.html"
    return render(request, template, context, status=400 if error and not request.htmx else 200)
