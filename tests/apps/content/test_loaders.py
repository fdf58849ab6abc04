"""Each app loads its own rows from the parsed files; the content app's sync only reads the folder and calls them."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.content.files import read_course
from apps.course.models import Concept
from apps.course.selectors import concept_ids
from apps.course.services import concepts_load
from apps.lab.models import Exercise
from apps.lab.services import exercises_load, exercises_place
from apps.quiz.models import Question
from apps.quiz.services import questions_load


@pytest.mark.django_db
def test_each_loader_writes_only_its_own_rows_and_counts_them(content_dir: Path) -> None:
    course = read_course(content_dir)
    assert exercises_load(exercises=course.exercises) == {"created": len(course.exercises)}
    assert not Concept.objects.exists() and not Question.objects.exists()

    counts = concepts_load(concepts=course.concepts)
    assert counts["created"] == len(course.concepts) and counts["links changed"] > 0
    assert not Question.objects.exists()
    assert concepts_load(concepts=course.concepts) == {"unchanged": len(course.concepts)}

    ids = concept_ids()
    for c in course.concepts:
        exercises_place(concept_id=ids[c.slug], slugs=c.exercises)
    owner = next(c for c in course.concepts if "fast-weight-memory" in c.exercises)
    fast = Exercise.objects.get(slug="fast-weight-memory")
    assert (fast.concept_id, fast.position) == (ids[owner.slug], owner.exercises.index(fast.slug))

    fixed = [q for q in course.questions if not q.generator]  # no reference run needed for these
    assert questions_load(questions=fixed, concept_ids=ids) == {"created": len(fixed)}
    assert questions_load(questions=fixed, concept_ids=ids) == {"unchanged": len(fixed)}


@pytest.mark.django_db
def test_the_sync_reports_in_the_order_it_loads(content_dir: Path) -> None:
    out = StringIO()
    call_command("sync_course", "--content", str(content_dir), verbosity=2, stdout=out)
    kinds = [line.split()[0] for line in out.getvalue().splitlines() if line.startswith("  ")]
    assert kinds == sorted(kinds, key=["exercise", "concept", "question"].index)
    assert set(kinds) == {"exercise", "concept", "question"}
    assert "variants from the reference)" in out.getvalue()
