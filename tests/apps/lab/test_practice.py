"""Run on examples: a practice run is stored and sent to the grading queue, charges no attempt, is rate-limited
on its own budget, is seen by its owner only, and the worker's task grades it on the visible cases only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.lab import practice, tasks
from apps.lab.models import Exercise, GradingRun, PracticeRun, Submission
from tests.apps.lab.test_submit import GOOD, HTMX

PRACTICE = reverse("lab:practice-create", args=["cumulative-average-memory"])


def test_the_exercise_page_offers_a_run_on_the_examples(logged_in) -> None:  # type: ignore[no-untyped-def]
    page = logged_in.get(reverse("lab:exercise", args=["cumulative-average-memory"])).content.decode()
    assert f'hx-post="{PRACTICE}"' in page and "Run on examples" in page


def test_a_practice_run_is_stored_and_sent_and_charges_no_attempt(  # type: ignore[no-untyped-def]
    logged_in, student, sent, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in.post(PRACTICE, {"code": GOOD}, headers=HTMX)
    assert response.status_code == 200
    run = PracticeRun.objects.get()
    assert run.user == student and run.source == GOOD and run.status == "queued"
    assert sent == [("lab.practice_run", [run.pk], "grading")]
    assert not Submission.objects.exists() and not GradingRun.objects.exists()  # no attempt, no grade
    html = response.content.decode()
    assert "not graded, no attempt used" in html and reverse("lab:practice", args=[run.pk]) in html


def test_bad_code_is_refused_before_anything_is_stored(logged_in, sent) -> None:  # type: ignore[no-untyped-def]
    response = logged_in.post(PRACTICE, {"code": "def update(mem, k, v)\n    return mem\n"}, headers=HTMX)
    assert "SyntaxError" in response.content.decode()
    assert not PracticeRun.objects.exists() and sent == []


def test_practice_runs_are_rate_limited_on_their_own_budget(logged_in, sent) -> None:  # type: ignore[no-untyped-def]
    for _ in range(practice.PRACTICE_PER_WINDOW):
        assert logged_in.post(PRACTICE, {"code": GOOD}, headers=HTMX).status_code == 200
    response = logged_in.post(PRACTICE, {"code": GOOD}, headers=HTMX)
    assert "run the examples" in response.content.decode() and "wait" in response.content.decode()
    assert PracticeRun.objects.count() == practice.PRACTICE_PER_WINDOW
    submit = reverse("lab:submit", args=["cumulative-average-memory"])
    assert logged_in.post(submit, {"code": GOOD}, headers=HTMX).status_code == 200  # submissions unaffected
    assert Submission.objects.count() == 1


def test_a_practice_run_is_seen_by_its_owner_only(logged_in, client, sent, django_user_model) -> None:  # type: ignore[no-untyped-def]
    logged_in.post(PRACTICE, {"code": GOOD}, headers=HTMX)
    run = PracticeRun.objects.get()
    assert logged_in.get(reverse("lab:practice", args=[run.pk])).status_code == 200
    other = django_user_model.objects.create_user("other", password="pw-other")
    client.force_login(other)
    assert client.get(reverse("lab:practice", args=[run.pk])).status_code == 404


def test_a_run_no_worker_took_says_so(logged_in, sent) -> None:  # type: ignore[no-untyped-def]
    logged_in.post(PRACTICE, {"code": GOOD}, headers=HTMX)
    run = PracticeRun.objects.get()
    PracticeRun.objects.filter(pk=run.pk).update(
        created_at=timezone.now() - practice.STALE - timedelta(seconds=1)
    )
    html = logged_in.get(reverse("lab:practice", args=[run.pk]), headers=HTMX).content.decode()
    assert "No worker took this run" in html and "every 500ms" not in html


@pytest.mark.usefixtures("synced_course")
def test_the_task_grades_the_examples_only(student) -> None:  # type: ignore[no-untyped-def]
    exercise = Exercise.objects.get(slug="cumulative-average-memory")
    solution = exercise.spec["solution"]
    run = PracticeRun.objects.create(user=student, exercise=exercise, source=solution)
    tasks.practice_run(run.pk)  # the task's body, in this process (it grades in the sandbox like a worker)
    run.refresh_from_db()
    assert run.status == "finished" and run.report["verdict"] == "passed"
    ran = [c["id"] for c in run.report["checks"] if c["ran"]]
    assert ran == ["interface", "correctness"]
    tasks.practice_run(run.pk)  # a duplicate message finds it finished and does nothing
    run.refresh_from_db()
    assert run.status == "finished"


DRAFT = reverse("lab:draft", args=["cumulative-average-memory"])
EXERCISE = reverse("lab:exercise", args=["cumulative-average-memory"])


def test_a_draft_is_kept_and_comes_back_until_a_newer_submission(logged_in, sent) -> None:  # type: ignore[no-untyped-def]
    assert logged_in.post(DRAFT, {"code": "# my draft\n"}).status_code == 204
    assert "# my draft" in logged_in.get(EXERCISE).content.decode()
    assert logged_in.post(DRAFT, {"code": "# my draft, again\n"}).status_code == 204  # one row, updated
    from apps.lab.models import Draft

    assert Draft.objects.count() == 1
    logged_in.post(reverse("lab:submit", args=["cumulative-average-memory"]), {"code": GOOD}, headers=HTMX)
    page = logged_in.get(EXERCISE).content.decode()
    assert "# my draft" not in page and "def update(mem, k, v):\n    ..." in page  # the newer submission wins


def test_a_draft_over_the_limit_is_refused(logged_in) -> None:  # type: ignore[no-untyped-def]
    response = logged_in.post(DRAFT, {"code": "#" * (64 * 1024 + 1)})
    assert response.status_code == 413


def test_a_syntax_error_keeps_its_lines(logged_in, sent) -> None:  # type: ignore[no-untyped-def]
    html = logged_in.post(PRACTICE, {"code": "def update(mem, k, v)\n    return mem\n"}, headers=HTMX)
    text = html.content.decode()
    assert "SyntaxError on line 1" in text and '<pre class="error-detail">    def update(mem, k, v)\n' in text
