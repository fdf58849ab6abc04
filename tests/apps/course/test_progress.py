"""Progress where students look (issue 19, item 4): each exercise under its own concept, and the exercise list
with status, best score and due date in course order."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from apps.course.models import Concept
from apps.course.progress import exercise_progress, progress_by_concept
from apps.course.selectors import concept_outline
from apps.lab import services
from apps.lab.models import Exercise

PASSED = {
    "schema": 1, "exercise": "x", "verdict": "passed", "score": 1.0, "checks": [],
    "sandbox": {"layers": [], "cpu_s": 0, "wall_s": 0, "max_rss_kb": 0},
    "stdout": "", "stderr": "", "grader_version": "t", "submission_sha256": "x", "timings": {},
}  # fmt: skip


@pytest.fixture
def grade(student, synced_course, monkeypatch):  # type: ignore[no-untyped-def]
    """Submit for ``student`` and finish the run with a verdict and a score (no worker: the report is given)."""
    from config.celery import app

    monkeypatch.setattr(app, "send_task", lambda *a, **k: None)

    def grade(slug: str, verdict: str, score: float) -> None:
        exercise = Exercise.objects.get(slug=slug)
        run = services.submission_create(user=student, exercise=exercise, source="x = 1\n").runs.get()
        report = {**PASSED, "verdict": verdict, "score": score}
        assert services.run_finish(run=services.run_claim(run_id=run.pk), report=report)

    return grade


def test_exercises_come_in_course_order_with_status_and_best_score(student, grade) -> None:  # type: ignore[no-untyped-def]
    grade("cumulative-average-memory", "failed", 0.25)
    grade("cumulative-average-memory", "passed", 1.0)
    grade("window-memory", "failed", 0.4)
    grade("window-memory", "internal_error", 0.0)  # a fault of ours: not a score
    rows = exercise_progress(user=student)
    positions = [(r.exercise.concept.position, r.exercise.position) for r in rows]  # type: ignore[union-attr]
    assert positions == sorted(positions) and len(rows) == Exercise.objects.count()
    by_slug = {r.exercise.slug: r for r in rows}
    assert (by_slug["cumulative-average-memory"].status, by_slug["cumulative-average-memory"].best) == (
        "passed",
        1.0,
    )
    assert (by_slug["window-memory"].status, by_slug["window-memory"].best) == ("attempted", 0.4)
    assert (by_slug["ema-memory"].status, by_slug["ema-memory"].best) == ("new", None)
    assert by_slug["ema-memory"].status_label == "Not started"


def test_the_home_page_lists_exercises_with_status_best_score_and_due_date(logged_in, grade) -> None:  # type: ignore[no-untyped-def]
    Exercise.objects.filter(slug="window-memory").update(deadline=datetime(2031, 3, 4, 12, 0, tzinfo=UTC))
    grade("window-memory", "failed", 0.4)
    page = logged_in.get(reverse("course:home")).content.decode()
    row = page[page.index('data-slug="window-memory"') :]
    row = row[: row.index("</li>")]
    assert 'data-status="attempted"' in row and "Attempted" in row and "best 40 %" in row
    assert 'datetime="2031-03-04T' in row and "due" in row
    first = page.index('data-slug="full-kv-cache-memory"')  # the first concept's exercise comes first
    assert first < page.index('data-slug="window-memory"') < page.index('data-slug="delta-rule-memory"')
    assert "Not started" in page[page.index('data-slug="delta-rule-memory"') :]


def test_a_passed_exercise_counts_for_its_own_concept(student, logged_in, grade) -> None:  # type: ignore[no-untyped-def]
    grade("cumulative-average-memory", "passed", 1.0)
    concepts = list(concept_outline(user=student))
    progress = progress_by_concept(user=student, concepts=concepts)
    mine = progress[Concept.objects.get(slug="cumulative-average").pk]
    assert (mine.exercises_done, mine.exercises_total, mine.started) == (1, 2, True)
    assert progress[Concept.objects.get(slug="general-recurrent-formula").pk].exercises_done == 0
    page = logged_in.get(reverse("course:map")).content.decode()
    node = page[page.index('data-slug="cumulative-average"') :]
    assert 'data-status="started"' in node[:60] and "exercises 1/2" in node[: node.index("</a>")]


def test_the_breadcrumb_and_practise_it_follow_the_exercise_concept(logged_in, grade) -> None:  # type: ignore[no-untyped-def]
    grade("cumulative-average-memory", "passed", 1.0)
    exercise = logged_in.get(reverse("lab:exercise", args=["cumulative-average-memory"])).content.decode()
    crumbs = exercise[exercise.index('class="crumbs"') :]
    crumbs = crumbs[: crumbs.index("</nav>")]
    assert "Cumulative Average Memory" in crumbs and "General Recurrent" not in crumbs
    concept = logged_in.get(reverse("course:concept", args=["cumulative-average"])).content.decode()
    practise = concept[concept.index("Practise it") :]
    practise = practise[: practise.index("</section>")]
    assert 'data-slug="cumulative-average-memory" data-status="passed"' in practise
    assert 'data-slug="fix-the-recurrence" data-status="new"' in practise
    gradient = logged_in.get(reverse("course:concept", args=["neural-network-as-memory"])).content.decode()
    assert reverse("lab:exercise", args=["gradient-memory"]) in gradient  # no exercise is left out
