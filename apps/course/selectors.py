from __future__ import annotations

from django.db.models import QuerySet

from apps.course.models import Concept


def concept_list() -> QuerySet[Concept]:
    return Concept.objects.all()


def concept_get(*, slug: str) -> Concept:
    return Concept.objects.prefetch_related("learn_before", "learn_after", "related").get(slug=slug)
