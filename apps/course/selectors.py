"""Reads of the course app. Who sees what: an instructor every concept, a student the published ones only (with
their published questions and exercises: ``apps.quiz.selectors.questions_visible``,
``apps.lab.selectors.exercises_visible``); a draft is a 404 for a student, never a 403 that announces it."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from apps.accounts.models import User
from apps.course.models import Concept
from apps.lab.selectors import exercises_visible
from apps.quiz.selectors import questions_visible


def concept_list() -> QuerySet[Concept]:
    return Concept.objects.all()


def concepts_visible(*, user: User) -> QuerySet[Concept]:
    return Concept.objects.all() if user.is_instructor else Concept.objects.published()


def concept_outline(*, user: User, links: bool = False) -> QuerySet[Concept]:
    """Every concept ``user`` may see, without its body, with the ids of the questions and exercises they may see
    (all that progress needs); ``links``: with its Learn-before concepts (those ``user`` may see), for the map.

    The home page and the course map show every concept on every visit; loading the questions' variants and the
    exercises' specs (the JSON of the whole grader spec) only to count them made those two the slowest pages.
    """
    fields = ("pk", "concept_id", "published")
    concepts = (
        concepts_visible(user=user)
        .defer("body")
        .prefetch_related(
            Prefetch("questions", queryset=questions_visible(user=user).only(*fields)),
            Prefetch("exercises", queryset=exercises_visible(user=user).only(*fields)),
        )
    )
    if links:
        before = concepts_visible(user=user).only("pk", "slug", "title", "position")
        concepts = concepts.prefetch_related(Prefetch("learn_before", queryset=before))
    return concepts


def concept_get_visible(*, slug: str, user: User) -> Concept:
    """The concept for its page, with the linked concepts ``user`` may see; DoesNotExist (a 404) for a concept
    ``user`` may not see."""
    linked = concepts_visible(user=user).defer("body")
    return (
        concepts_visible(user=user)
        .prefetch_related(
            Prefetch("learn_before", queryset=linked),
            Prefetch("learn_after", queryset=linked),
            Prefetch("related", queryset=linked),
        )
        .get(slug=slug)
    )


def concept_ids() -> dict[str, int]:
    """Every concept's primary key by slug: the loaders of quiz and lab link their rows to concepts by it."""
    return dict(Concept.objects.values_list("slug", "pk"))
