"""The life of a grading run: atomic claim, finish only by the owning claim, polling that stops, privacy."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.lab import services
from apps.lab.models import Exercise, GradingRun
from apps.lab.tasks import grade_run
from tests.support.factories import user_create

REPORT = {
    "schema": 1,
    "exercise": "cumulative-average-memory",
    "verdict": "failed",
    "score": 0.5,
    "checks": [
        {
            "id": "recurrence",
            "passed": False,
            "points": 0,
            "max_points": 40,
            "message": "Replayed in a fresh process <b>it differed</b>.",
            "counterexample": None,
            "hidden": False,
        }
    ],
    "sandbox": {"layers": ["rlimits"], "cpu_s": 0.01, "wall_s": 0.02, "max_rss_kb": 1},
    "stdout": "\x1b[31m<script>alert(1)</script>",
    "stderr": "",
    "grader_version": "t",
    "submission_sha256": "x",
    "timings": {},
}


@pytest.fixture
def run(student, synced_course, monkeypatch):  # type: ignore[no-untyped-def]
    from config.celery import app

    monkeypatch.setattr(app, "send_task", lambda *a, **k: None)
    exercise = Exercise.objects.get(slug="cumulative-average-memory")
    return services.submission_create(user=student, exercise=exercise, source="x = 1\n").runs.get()


def test_a_run_is_claimed_once(run) -> None:  # type: ignore[no-untyped-def]
    claimed = services.run_claim(run_id=run.pk)
    assert claimed is not None and claimed.status == "running" and claimed.attempt == 1
    assert services.run_claim(run_id=run.pk) is None


def test_only_the_owning_claim_can_finish(run) -> None:  # type: ignore[no-untyped-def]
    claim = services.run_claim(run_id=run.pk)
    assert services.run_release(run=claim)
    newer = services.run_claim(run_id=run.pk)
    assert not services.run_finish(run=claim, report=REPORT)  # stale claim: refused
    assert services.run_finish(run=newer, report=REPORT)
    stored = GradingRun.objects.get(pk=run.pk)
    assert (stored.status, stored.verdict, stored.score, stored.attempt) == ("finished", "failed", 0.5, 2)


def test_a_redelivered_task_does_nothing(run) -> None:  # type: ignore[no-untyped-def]
    claim = services.run_claim(run_id=run.pk)
    services.run_finish(run=claim, report=REPORT)
    grade_run.run(run.pk)  # a second delivery of the same task: no claim, no grading, no change
    stored = GradingRun.objects.get(pk=run.pk)
    assert stored.report == REPORT and stored.attempt == 1


def test_status_fragment_polls_while_pending_and_stops_when_graded(client, student, run) -> None:  # type: ignore[no-untyped-def]
    client.force_login(student)
    url = reverse("lab:run-status", args=[run.pk])
    pending = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 500ms"' in pending and "Queued" in pending

    services.run_finish(run=services.run_claim(run_id=run.pk), report=REPORT)
    done = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in done  # the swapped-in fragment no longer polls
    assert 'data-verdict="failed"' in done and "recurrence" in done
    assert "&lt;b&gt;it differed&lt;/b&gt;" in done  # messages are escaped, never rendered as markup
    assert "<script>alert(1)</script>" not in done


def test_a_run_given_back_after_a_fault_tells_the_student_it_is_retried(client, student, run) -> None:  # type: ignore[no-untyped-def]
    """A grading interrupted on the server goes back to the queue: the student reads that it is being retried,
    never that their code was killed; the final internal_error says the same, and that it is not counted."""
    client.force_login(student)
    url = reverse("lab:run-status", args=[run.pk])
    first = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "interrupted on the server" not in first  # a fresh run is simply queued

    claimed = services.run_claim(run_id=run.pk)
    assert claimed is not None and services.run_release(run=claimed)
    again = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "Grading was interrupted on the server; it is being retried." in again
    assert 'hx-trigger="every 500ms"' in again  # still polling for the retry's verdict

    claimed = services.run_claim(run_id=run.pk)
    assert claimed is not None and services.run_give_up(
        run=claimed, reason="the runner was killed from outside"
    )
    done = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'data-verdict="internal_error"' in done and "is not counted" in done
    assert "killed by" not in done.replace("killed from outside", "")


def test_another_student_cannot_see_the_run(client, run) -> None:  # type: ignore[no-untyped-def]
    client.force_login(user_create(username="bob"))
    assert client.get(reverse("lab:run", args=[run.pk])).status_code == 404
    assert client.get(reverse("lab:run-status", args=[run.pk])).status_code == 404


def test_an_instructor_can_see_the_run(client, instructor, run) -> None:  # type: ignore[no-untyped-def]
    client.force_login(instructor)
    assert client.get(reverse("lab:run", args=[run.pk])).status_code == 200


PLOT = {
    "kind": "cost",
    "title": "Work of update over the first n steps of one sequence",
    "x_label": "steps n",
    "y_label": "cost",
    "log": True,
    "series": [{"name": "tensor elements", "x": [64.0, 128.0], "y": [10.0, 40.0], "style": "solid"}],
}


def test_a_check_plot_is_drawn_as_svg_for_the_owner_only(client, student, run) -> None:  # type: ignore[no-untyped-def]
    report = {**REPORT, "checks": [{**REPORT["checks"][0], "plot": PLOT}]}  # type: ignore[dict-item]
    services.run_finish(run=services.run_claim(run_id=run.pk), report=report)
    client.force_login(student)
    page = client.get(reverse("lab:run", args=[run.pk])).content.decode()
    url = reverse("lab:run-plot", args=[run.pk, "recurrence"])
    assert f'src="{url}"' in page and f'alt="{PLOT["title"]}"' in page
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert "<svg" in response.content.decode() and "default-src 'none'" in response["Content-Security-Policy"]
    assert client.get(reverse("lab:run-plot", args=[run.pk, "purity"])).status_code == 404  # no such plot
    client.force_login(user_create(username="bob"))
    assert client.get(url).status_code == 404


def test_a_grading_interrupted_on_the_server_is_retried_then_stored_as_internal_error(
    run, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """JobInterrupted (a job killed from outside, twice) reaches the task as a GraderError: the run is given back
    and the task retried, each try a fresh claim; when the retries run out, internal_error, never a verdict on
    the code (the task runs eagerly here: each retry runs at once, in this process)."""
    from graders.sandbox.outcome import JobInterrupted

    tries: list[int] = []

    def interrupted(*, run: GradingRun) -> dict:  # type: ignore[type-arg]
        tries.append(run.attempt)
        raise JobInterrupted(
            "the process running the submission was killed by SIGKILL from outside its sandbox"
        )

    monkeypatch.setattr(services, "run_grade", interrupted)
    grade_run.apply(args=[run.pk])
    final = GradingRun.objects.get(pk=run.pk)
    assert tries == [1, 2, 3, 4]  # the first try and grade_run's max_retries (3), each a new claim
    assert (final.status, final.verdict) == ("finished", "internal_error")
    assert final.score in (None, 0)
    messages = [check["message"] for check in (final.report or {}).get("checks", [])]
    assert messages and all(
        "interrupted on the server" in m and "not a verdict on your code" in m for m in messages
    )
    assert all("SIGKILL from outside" in m for m in messages)  # the reason, for whoever reads the report
