"""Writes of the course app: syncing the course files into the database."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import models, transaction

from apps.course.content_files import Course, read_course
from apps.course.models import Concept
from apps.lab.models import Exercise
from apps.quiz.models import Question


def _upsert(model: type[models.Model], slug: str, values: dict[str, Any], counts: Counter[str]) -> Any:
    obj = model.objects.filter(slug=slug).first()
    if obj is None:
        counts["created"] += 1
        return model.objects.create(slug=slug, **values)
    changed = {k: v for k, v in values.items() if getattr(obj, k) != v}
    if changed:
        for key, value in changed.items():
            setattr(obj, key, value)
        obj.save(update_fields=list(changed))
        counts["updated"] += 1
    else:
        counts["unchanged"] += 1
    return obj


def _set_links(obj: models.Model, name: str, targets: list[Any], counts: Counter[str]) -> None:
    manager = getattr(obj, name)
    if {t.pk for t in manager.all()} != {t.pk for t in targets}:
        manager.set(targets)
        counts["links changed"] += 1


@transaction.atomic
def course_sync(*, content_dir: Path, progress: Callable[[str], None] = lambda _: None) -> dict[str, int]:
    """Bring the database in line with the course files. Idempotent; all or nothing (files are parsed first)."""
    course: Course = read_course(content_dir)
    counts: Counter[str] = Counter()
    exercises = {}
    for e in course.exercises:
        progress(f"exercise {e.slug}")
        values = {"title": e.title, "statement": e.statement, "starter": e.starter, "spec": e.spec}
        exercises[e.slug] = _upsert(Exercise, e.slug, values, counts)
    concepts = {}
    for c in course.concepts:
        progress(f"concept {c.slug}")
        values = {
            "title": c.title,
            "summary": c.summary,
            "body": c.body,
            "tags": c.tags,
            "position": c.position,
        }
        concepts[c.slug] = _upsert(Concept, c.slug, values, counts)
    for c in course.concepts:
        _set_links(concepts[c.slug], "learn_before", [concepts[s] for s in c.learn_before], counts)
        _set_links(concepts[c.slug], "related", [concepts[s] for s in c.related], counts)
        for position, slug in enumerate(c.exercises):
            _upsert(Exercise, slug, {"concept": concepts[c.slug], "position": position}, Counter())
    for q in course.questions:
        progress(
            f"question {q.slug}" + (f" ({q.generator} variants from the reference)" if q.generator else "")
        )
        values = {
            "concept": concepts[q.concept],
            "kind": q.kind,
            "stem": q.stem,
            "choices": q.choices,
            "answer": q.answer,
            "explanation": q.explanation,
            "position": q.position,
            "generator": q.generator,
            "variants": question_variants(q.generator, q.slug),
        }
        _upsert(Question, q.slug, values, counts)
    return dict(counts)


def question_variants(generator: str, slug: str) -> list[dict[str, Any]]:
    if not generator:
        return []
    from apps.quiz.generators import variants  # torch and the reference: only for randomized questions

    return variants(generator, slug=slug)
