from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from apps.course.models import Concept
from apps.lab.models import Exercise
from apps.quiz.models import Question


def concept_list() -> QuerySet[Concept]:
    return Concept.objects.all()


def concept_outline() -> QuerySet[Concept]:
    """Every concept without its body, with the ids of its questions and exercises (all that progress needs).

    The home page and the course map show every concept on every visit; loading the questions' variants and the
    exercises' specs (the JSON of the whole grader spec) only to count them made those two the slowest pages.
    """
    return Concept.objects.defer("body").prefetch_related(
        Prefetch("questions", queryset=Question.objects.only("pk", "concept_id")),
        Prefetch("exercises", queryset=Exercise.objects.only("pk", "concept_id")),
    )


def concept_get(*, slug: str) -> Concept:
    return Concept.objects.prefetch_related("learn_before", "learn_after", "related").get(slug=slug)


def concept_ids() -> dict[str, int]:
    """Every concept's primary key by slug: the loaders of quiz and lab link their rows to concepts by it."""
    return dict(Concept.objects.values_list("slug", "pk"))
