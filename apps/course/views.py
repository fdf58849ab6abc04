from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.decorators import instructor_required
from apps.course import authoring, selectors, services
from apps.course.content_files import ContentError
from apps.course.course_map import build
from apps.course.models import Concept
from apps.course.progress import exercise_progress, progress_by_concept
from apps.quiz.models import Question
from apps.quiz.selectors import question_list_for_concept


@login_required
def home(request: HttpRequest) -> HttpResponse:
    concepts = list(selectors.concept_outline(user=request.user))
    progress = progress_by_concept(user=request.user, concepts=concepts)
    rows = [(c, progress[c.pk]) for c in concepts]
    context = {"concepts": rows, "exercises": exercise_progress(user=request.user)}
    return render(request, "course/home.html", context)


@login_required
def course_map(request: HttpRequest) -> HttpResponse:
    """Every concept, laid out along its Learn-before links and coloured by this student's progress."""
    concepts = list(selectors.concept_outline(user=request.user, links=True))
    progress = progress_by_concept(user=request.user, concepts=concepts)
    return render(request, "course/map.html", {"map": build(concepts, progress)})


@login_required
def concept_figure(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    """A figure of a concept page (drawn at sync time) as an SVG document, for whoever may see the concept."""
    try:
        concept = selectors.concept_get_visible(slug=slug, user=request.user)
    except Concept.DoesNotExist as exc:
        raise Http404("No such concept.") from exc
    if not 0 <= number < len(concept.figures):
        raise Http404("No such figure.")
    response = HttpResponse(concept.figures[number]["svg"], content_type="image/svg+xml")
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response["Cache-Control"] = "private, max-age=300"
    return response


@login_required
def concept_detail(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        concept = selectors.concept_get_visible(slug=slug, user=request.user)
    except Concept.DoesNotExist as exc:
        raise Http404("No such concept.") from exc
    questions = question_list_for_concept(concept=concept, user=request.user)
    exercises = exercise_progress(user=request.user, concept=concept)
    context = {"concept": concept, "questions": questions, "exercises": exercises}
    return render(request, "course/concept_detail.html", context)


@instructor_required
def concept_edit(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    """Instructors: write or change a concept page in its file format, with a live preview of its body."""
    concept = Concept.objects.filter(slug=slug).first() if slug else None
    return _edit(
        request, "concept", slug, concept, authoring.concept_source, authoring.concept_save, lambda c: c.slug
    )


@instructor_required
def question_edit(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    """Instructors: write or change a question in its YAML format (a randomized one names a generator)."""
    question = Question.objects.filter(slug=slug).first() if slug else None
    save, source = authoring.question_save, authoring.question_source
    return _edit(request, "question", slug, question, source, save, lambda q: q.concept.slug)


def _edit(
    request: HttpRequest,
    kind: str,
    slug: str | None,
    item: Any,
    source: Callable[[Any], str],
    save: Callable[..., Any],
    concept_of: Callable[[Any], str],
) -> HttpResponse:
    """The editor of one item in its file format: saved (then its concept page shown) or the loader's message.
    The checkbox ``published`` says whether students see it (a new item starts unticked: a draft)."""
    if slug and item is None:
        raise Http404(f"No such {kind}.")
    text, problem, published = source(item), "", bool(item and item.published)
    if request.method == "POST":
        # a browser posts a textarea's lines with CRLF; the file format (and its front-matter regex) has LF
        text = request.POST.get("text", "").replace("\r\n", "\n")
        published = request.POST.get("published") == "on"
        try:
            saved = save(text=text, editing=item, published=published)
        except ContentError as exc:
            problem = str(exc)
        else:
            return redirect("course:concept", slug=concept_of(saved))
    context = {"kind": kind, "item": item, "text": text, "problem": problem, "published": published}
    return render(request, "course/edit.html", context, status=400 if problem else 200)


@instructor_required
@require_POST
def concept_publish(request: HttpRequest, slug: str) -> HttpResponse:
    """Instructors: publish (``published=1``) or unpublish the concept in one click, back to its editor."""
    concept = get_object_or_404(Concept, slug=slug)
    services.concept_set_published(concept=concept, published=request.POST.get("published") == "1")
    return redirect("course:concept-edit", slug=slug)


@instructor_required
def preview(request: HttpRequest) -> HttpResponse:
    """Instructors: the Markdown of the edited text (the body after the front matter, or the YAML's stem)."""
    return render(
        request, "course/preview.html", {"markdown": authoring.preview_markdown(request.POST.get("text", ""))}
    )
