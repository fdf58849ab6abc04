"""The sync: the course folder into the database, each app loading its own rows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from django.db import transaction

from apps.content.files import Course, read_course
from apps.course.selectors import concept_ids
from apps.course.services import concepts_draw, concepts_load
from apps.lab.services import exercises_load, exercises_place
from apps.quiz.services import questions_load


@transaction.atomic
def course_sync(*, content_dir: Path, progress: Callable[[str], None] = lambda _: None) -> dict[str, int]:
    """Bring the database in line with the course files. Idempotent; all or nothing (files are parsed first).

    The order follows the links: exercises and concepts first, then each concept's exercises (rows of the lab
    pointing at concepts), then the questions (each belongs to a concept).
    """
    course: Course = read_course(content_dir)
    counts: Counter[str] = Counter()
    counts += exercises_load(exercises=course.exercises, progress=progress)
    counts += concepts_load(concepts=course.concepts, progress=progress)
    ids = concept_ids()
    for c in course.concepts:
        exercises_place(concept_id=ids[c.slug], slugs=c.exercises)
    model_of = {e.slug: str(e.spec["model"]) for e in course.exercises}
    counts += concepts_draw(
        models={c.slug: [model_of[s] for s in c.exercises] for c in course.concepts}, progress=progress
    )
    counts += questions_load(questions=course.questions, concept_ids=ids, progress=progress)
    return dict(counts)
