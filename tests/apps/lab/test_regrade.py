"""Regrading every submission of an exercise: new runs beside the old, enqueued after commit, progress shown."""

from __future__ import annotations

from django.urls import reverse

from apps.lab import selectors, services
from apps.lab.models import Exercise, GradingRun, RegradeBatch
from tests.support.factories import user_create

SLUG = "cumulative-average-memory"


def _finish(run: GradingRun, verdict: str) -> None:
    claimed = services.run_claim(run_id=run.pk)
    assert claimed is not None
    services.run_finish(
        run=claimed, report={"verdict": verdict, "score": 1.0 if verdict == "passed" else 0.0}
    )


def test_an_instructor_regrades_and_watches_the_progress(  # type: ignore[no-untyped-def]
    client, synced_course, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    from config.celery import app

    sent: list[int] = []
    monkeypatch.setattr(app, "send_task", lambda name, args, queue, **options: sent.append(args[0]))
    exercise = Exercise.objects.get(slug=SLUG)
    for name in ("ana", "ben"):
        run = services.submission_create(
            user=user_create(username=name), exercise=exercise, source="x\n"
        ).runs.get()
        _finish(run, "failed")
    sent.clear()
    prof = user_create(username="prof", role="instructor")
    client.force_login(prof)
    url = reverse("lab:regrade", args=[SLUG])
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url).status_code == 302
    batch = RegradeBatch.objects.get()
    new_runs = list(batch.runs.all())
    assert len(new_runs) == 2 and sorted(sent) == sorted(r.pk for r in new_runs)  # sent after commit
    assert GradingRun.objects.count() == 4  # the old runs stay beside the new ones
    page = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "0 of 2 graded" in page and 'hx-trigger="every 1s"' in page

    _finish(new_runs[0], "passed")  # the tests changed: this one now passes
    _finish(new_runs[1], "failed")
    progress = selectors.regrade_progress(batch=batch)
    assert (progress.finished, progress.total, progress.changed, progress.done) == (2, 2, 1, True)
    page = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "2 of 2 graded, 1 verdict changed" in page and "hx-trigger" not in page


def test_a_student_cannot_regrade(client, synced_course) -> None:  # type: ignore[no-untyped-def]
    client.force_login(user_create(username="student"))
    assert client.post(reverse("lab:regrade", args=[SLUG])).status_code == 404
    assert not RegradeBatch.objects.exists()


def test_an_instructor_sees_every_submission_with_links_to_its_reports(
    client, synced_course, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from config.celery import app

    monkeypatch.setattr(app, "send_task", lambda *a, **k: None)
    exercise = Exercise.objects.get(slug=SLUG)
    run = services.submission_create(
        user=user_create(username="ana"), exercise=exercise, source="x\n"
    ).runs.get()
    _finish(run, "failed")
    client.force_login(user_create(username="prof", role="instructor"))
    page = client.get(reverse("lab:submissions", args=[SLUG])).content.decode()
    assert "ana" in page and reverse("lab:run", args=[run.pk]) in page and "data-verdict" not in page
    assert client.get(reverse("lab:run", args=[run.pk])).status_code == 200  # and the report itself
