"""The database written back to course files (``manage.py export_course``): the inverse of the sync.

What the instructor edited in the browser becomes files again, in the layout ``apps.content.files`` reads, so
that exporting and syncing again changes nothing. Concepts and questions are written by their own format
(``apps.course.content_files``); exercises from the grader's spec (``spec``), which holds the solution and the
wrong variants as well as the YAML fields.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from apps.course.content_files import concept_text, question_text
from apps.course.models import Concept
from apps.lab.models import Exercise
from apps.quiz.models import Question

EXERCISE_TEXTS = {"statement": "statement.md", "starter": "starter.py", "solution": "solution.py"}


def write_exercise(exercise: Exercise, folder: Path) -> None:
    spec = dict(exercise.spec)
    if not exercise.published:  # only a draft says so: the files are the published course
        spec = {"slug": spec.pop("slug"), "title": spec.pop("title"), "published": False} | spec
    folder.mkdir(parents=True, exist_ok=True)
    for key, name in EXERCISE_TEXTS.items():
        (folder / name).write_text(str(spec.pop(key, "")), encoding="utf-8")
    wrong = spec.pop("wrong", [])
    if wrong:
        (folder / "wrong").mkdir(exist_ok=True)
    for variant in wrong:
        (folder / "wrong" / variant["file"]).write_text(variant.pop("source", ""), encoding="utf-8")
    spec["wrong"] = wrong
    text = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=110)
    (folder / "exercise.yaml").write_text(text, encoding="utf-8")


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
