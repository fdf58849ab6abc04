"""The database written back to course files (``manage.py export_course``): the inverse of ``course_sync``.

What the instructor edited in the browser becomes files again, in the layout ``content_files`` reads, so that
exporting and syncing again changes nothing. Exercises are written from the grader's spec (``spec``), which holds
the solution and the wrong variants as well as the YAML fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from apps.course.models import Concept
from apps.lab.models import Exercise
from apps.quiz.models import Question

EXERCISE_TEXTS = {"statement": "statement.md", "starter": "starter.py", "solution": "solution.py"}


def _dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)


def concept_text(concept: Concept) -> str:
    meta = {
        "slug": concept.slug,
        "title": concept.title,
        "summary": concept.summary,
        "position": concept.position,
        "tags": list(concept.tags),
        "learn_before": [c.slug for c in concept.learn_before.order_by("position", "slug")],
        "related": [c.slug for c in concept.related.order_by("position", "slug")],
        "exercises": [e.slug for e in concept.exercises.order_by("position", "slug")],
    }
    return f"---\n{_dump(meta)}---\n{concept.body}"


def question_text(question: Question) -> str:
    data: dict[str, Any] = {
        "slug": question.slug,
        "concept": question.concept.slug,
        "kind": question.kind,
        "position": question.position,
        "stem": question.stem,
    }
    if question.choices:
        data["choices"] = list(question.choices)
    if question.generator:  # randomized: the variants are computed again at the next sync
        data["generator"] = question.generator
    elif question.answer:
        data["answer"] = dict(question.answer)
    data["explanation"] = question.explanation
    return _dump(data)


def write_exercise(exercise: Exercise, folder: Path) -> None:
    spec = dict(exercise.spec)
    folder.mkdir(parents=True, exist_ok=True)
    for key, name in EXERCISE_TEXTS.items():
        (folder / name).write_text(str(spec.pop(key, "")), encoding="utf-8")
    wrong = spec.pop("wrong", [])
    if wrong:
        (folder / "wrong").mkdir(exist_ok=True)
    for variant in wrong:
        (folder / "wrong" / variant["file"]).write_text(variant.pop("source", ""), encoding="utf-8")
    spec["wrong"] = wrong
    (folder / "exercise.yaml").write_text(_dump(spec), encoding="utf-8")


def course_export(*, out: Path) -> dict[str, int]:
    """Write every concept, question and exercise under ``out`` (created); returns what was written."""
    (out / "concepts").mkdir(parents=True, exist_ok=True)
    (out / "questions").mkdir(parents=True, exist_ok=True)
    concepts = Concept.objects.prefetch_related("learn_before", "related", "exercises")
    for concept in concepts:
        (out / "concepts" / f"{concept.slug}.md").write_text(concept_text(concept), encoding="utf-8")
    for question in Question.objects.select_related("concept"):
        (out / "questions" / f"{question.slug}.yaml").write_text(question_text(question), encoding="utf-8")
    exercises = list(Exercise.objects.all())
    for exercise in exercises:
        write_exercise(exercise, out / "exercises" / exercise.slug)
    return {"concepts": len(concepts), "questions": Question.objects.count(), "exercises": len(exercises)}
