"""Exercise analytics: pass rate, submissions to pass, the check that fails most, the score distribution."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from django.urls import reverse

from apps.grades.exercise_stats import all_exercise_stats, exercise_stats
from apps.lab.models import Exercise
from tests.support.factories import user_create
from tests.support.graded import Graded


def test_pass_rate_attempts_to_pass_checks_and_distribution(client, synced_course, graded: Graded) -> None:  # type: ignore[no-untyped-def]
    exercise = Exercise.objects.get(slug="cumulative-average-memory")
    plays = {  # each student's submissions in order: (score, failing checks)
        "first-try": [(1.0, ())],
        "third-try": [(0.2, ("state_size", "causal_output")), (0.6, ("state_size",)), (1.0, ())],
        "stuck": [(0.35, ("state_size",)), (0.3, ("state_size", "step_cost"))],
        "once": [(0.0, ("correctness_hidden",))],
    }
    for name, submissions in plays.items():
        student = user_create(username=name)
        for score, failing in submissions:
            graded(student, exercise, score, failing=failing)
    graded(
        user_create(username="prof", role="instructor"), exercise, 0.0, failing=("state_size",)
    )  # not counted

    stats = exercise_stats(exercise=exercise)
    assert (stats.students, stats.passed, stats.submissions, stats.graded) == (4, 2, 7, 7)
    assert stats.pass_rate == 0.5 and stats.attempts_to_pass == [1, 3] and stats.median_attempts == 2
    assert stats.most_failed is not None and stats.most_failed.check == "state_size"
    assert (stats.most_failed.submissions, stats.most_failed.students) == (4, 2)
    assert "causal" not in {c.check for c in stats.checks}  # not run is not failing
    assert sorted(stats.best_scores) == [0.0, 35.0, 100.0, 100.0]
    assert dict(stats.histogram) == {
        **{label: 0 for label, _ in stats.histogram},
        "0–10": 1,
        "30–40": 1,
        "90–100": 2,
    }

    assert next(s for s in all_exercise_stats() if s.exercise == exercise).attempts_to_pass == [1, 3]

    client.force_login(user_create(username="prof2", role="instructor"))
    html = client.get(reverse("grades:exercise", args=[exercise.slug])).content.decode()
    assert 'data-stat="pass-rate">50%' in html and 'data-check="state_size"' in html
    summary = client.get(reverse("grades:analytics")).content.decode()
    assert reverse("grades:exercise", args=[exercise.slug]) in summary
    chart = client.get(reverse("grades:exercise-scores", args=[exercise.slug]))
    assert chart["Content-Type"] == "image/svg+xml"
    texts = {
        "".join(e.itertext()) for e in ET.fromstring(chart.content).iter("{http://www.w3.org/2000/svg}text")
    }
    assert "Best score per student" in texts and "90–100" in texts


def test_an_exercise_nobody_tried(client, synced_course) -> None:  # type: ignore[no-untyped-def]
    exercise = Exercise.objects.get(slug="cumulative-average-memory")
    stats = exercise_stats(exercise=exercise)
    assert (stats.students, stats.pass_rate, stats.median_attempts, stats.most_failed) == (
        0,
        None,
        None,
        None,
    )
    client.force_login(user_create(username="prof", role="instructor"))
    html = client.get(reverse("grades:exercise", args=[exercise.slug])).content.decode()
    assert "No graded submission yet." in html
