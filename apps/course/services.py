"""Writes of the course app: its concepts, loaded from parsed course files (``apps.content`` runs the sync)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from django.db import transaction

from apps.course.content_files import ConceptFile
from apps.course.models import Concept
from apps.upsert import upsert_by_slug


def _set_links(concept: Concept, name: str, targets: list[Concept], counts: Counter[str]) -> None:
    manager = getattr(concept, name)
    if {t.pk for t in manager.all()} != {t.pk for t in targets}:
        manager.set(targets)
        counts["links changed"] += 1


@transaction.atomic
def concepts_load(
    *, concepts: Sequence[ConceptFile], progress: Callable[[str], None] = lambda _: None
) -> Counter[str]:
    """Upsert every concept, then its Learn-before and related links (every concept exists by then).

    Counts the concepts created, updated and unchanged, and each link set that changed. The files' links were
    checked by the reader (``apps.content.files``); the concepts' exercises are the lab's rows, placed by it.
    """
    counts: Counter[str] = Counter()
    rows = {}
    for c in concepts:
        progress(f"concept {c.slug}")
        values = {
            "title": c.title,
            "summary": c.summary,
            "body": c.body,
            "tags": c.tags,
            "position": c.position,
            "published": c.published,
        }
        rows[c.slug] = upsert_by_slug(Concept, c.slug, values, counts)
    for c in concepts:
        _set_links(rows[c.slug], "learn_before", [rows[s] for s in c.learn_before], counts)
        _set_links(rows[c.slug], "related", [rows[s] for s in c.related], counts)
    return counts


def concepts_draw(
    *, models: dict[str, list[str]], progress: Callable[[str], None] = lambda _: None
) -> Counter[str]:
    """Draw each concept's figures from the reference models its exercises use (``models``: concept slug ->
    model ids); a concept without one shows the whole course's. Sync time only: this loads torch."""
    from apps.course.figures import concept_figures

    counts: Counter[str] = Counter()
    for slug, model_ids in models.items():
        progress(f"concept {slug}: figures from the reference")
        figures = concept_figures(tuple(model_ids))
        counts["figures drawn"] += (
            Concept.objects.filter(slug=slug).exclude(figures=figures).update(figures=figures)
        )
    return counts


def concept_set_published(*, concept: Concept, published: bool) -> None:
    """Publish or unpublish a concept (the one-click button of its editor); its questions and exercises keep
    their own state, and a student sees them only while the concept is published too."""
    concept.published = published
    concept.save(update_fields=["published", "updated_at"])
