from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_POST

from apps.quiz.models import Question
from apps.quiz.scoring import InvalidResponse
from apps.quiz.selectors import question_get_visible, question_view
from apps.quiz.services import attempt_create, attempt_give_up


@login_required
@require_POST
def answer(request, slug: str):  # type: ignore[no-untyped-def]
    """Check an answer, or give up on the variant ("Show the answer"), for the attempt the form was drawn for."""
    try:  # a draft question, or one on a draft concept, is a 404 for a student
        question = question_get_visible(slug=slug, user=request.user)
    except Question.DoesNotExist as exc:
        raise Http404("No such question.") from exc
    raw = str(request.POST.get("attempt") or "")
    number = int(raw) if raw.isdigit() else None  # a form without it answers the current attempt
    error = ""
    try:
        if request.POST.get("give_up"):
            attempt_give_up(user=request.user, question=question, number=number)
        else:
            attempt_create(user=request.user, question=question, data=request.POST, number=number)
    except InvalidResponse as exc:
        error = str(exc)
    context = {"item": question_view(question=question, user=request.user), "error": error}
    # htmx swaps just the question; without JavaScript the same card is shown on a page of its own.
    template = "quiz/question_page.html#question" if request.htmx else "quiz/question_page.html"
    return render(request, template, context, status=400 if error and not request.htmx else 200)
