from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from apps.course import selectors
from apps.course.course_map import build
from apps.course.models import Concept
from apps.course.progress import progress_by_concept
from apps.lab.selectors import exercise_list
from apps.quiz.selectors import question_list_for_concept


@login_required
def home(request: HttpRequest) -> HttpResponse:
    concepts = list(selectors.concept_list().prefetch_related("questions", "exercises"))
    progress = progress_by_concept(user=request.user, concepts=concepts)
    rows = [(c, progress[c.pk]) for c in concepts]
    context = {"concepts": rows, "exercises": exercise_list()}
    return render(request, "course/home.html", context)


@login_required
def course_map(request: HttpRequest) -> HttpResponse:
    """Every concept, laid out along its Learn-before links and coloured by this student's progress."""
    concepts = list(selectors.concept_list().prefetch_related("learn_before", "questions", "exercises"))
    progress = progress_by_concept(user=request.user, concepts=concepts)
    return render(request, "course/map.html", {"map": build(concepts, progress)})


@login_required
def concept_detail(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        concept = selectors.concept_get(slug=slug)
    except Concept.DoesNotExist as exc:
        raise Http404("No such concept.") from exc
    questions = question_list_for_concept(concept=concept, user=request.user)
    return render(request, "course/concept_detail.html", {"concept": concept, "questions": questions})
