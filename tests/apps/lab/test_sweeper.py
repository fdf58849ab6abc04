"""The sweeper: a run whose worker died is requeued, given up after three claims, never graded twice."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from apps.lab import services
from apps.lab.models import Exercise, GradingRun
from tests.support.factories import user_create


def _run(monkeypatch, sent: list[int]) -> GradingRun:  # type: ignore[no-untyped-def]
    from config.celery import app

    monkeypatch.setattr(app, "send_task", lambda name, args, queue, **options: sent.append(args[0]))
    exercise = Exercise.objects.get(slug="cumulative-average-memory")
    return services.submission_create(
        user=user_create(username="ana"), exercise=exercise, source="x\n"
    ).runs.get()


def test_an_expired_claim_is_requeued_then_given_up(
    synced_course, monkeypatch, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    sent: list[int] = []
    run = _run(monkeypatch, sent)
    later = timezone.now() + services.RUN_LEASE + timedelta(seconds=1)
    for attempt in range(1, services.MAX_ATTEMPTS):
        claimed = services.run_claim(run_id=run.pk)  # a worker claims it, then dies
        assert claimed is not None and claimed.attempt == attempt
        with django_capture_on_commit_callbacks(execute=True):
            assert services.runs_sweep(now=later)["requeued"] == 1
        assert GradingRun.objects.get(pk=run.pk).status == "queued" and sent[-1] == run.pk
    services.run_claim(run_id=run.pk)  # the last attempt dies too
    assert services.runs_sweep(now=later)["gave up"] == 1
    final = GradingRun.objects.get(pk=run.pk)
    assert final.status == "finished" and final.verdict == "internal_error"  # never blamed on the student


def test_a_live_claim_is_left_alone_and_a_late_worker_cannot_overwrite(synced_course, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    sent: list[int] = []
    run = _run(monkeypatch, sent)
    slow = services.run_claim(run_id=run.pk)
    assert services.runs_sweep(now=timezone.now())["requeued"] == 0  # still within its lease
    services.runs_sweep(now=timezone.now() + services.RUN_LEASE * 2)  # the lease runs out: requeued
    newer = services.run_claim(run_id=run.pk)
    assert slow is not None and newer is not None
    assert not services.run_finish(
        run=slow, report={"verdict": "passed", "score": 1.0}
    )  # the old claim lost it
    assert services.run_finish(run=newer, report={"verdict": "failed", "score": 0.0})
    assert GradingRun.objects.get(pk=run.pk).verdict == "failed"  # exactly one final verdict


def test_a_queued_run_whose_message_was_lost_is_sent_again(
    synced_course, monkeypatch, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    sent: list[int] = []
    run = _run(monkeypatch, sent)
    with django_capture_on_commit_callbacks(execute=True):
        counts = services.runs_sweep(now=timezone.now() + services.QUEUE_LEASE + timedelta(seconds=1))
    assert counts["sent again"] == 1 and sent == [run.pk]
    # the next sweep a minute later leaves it alone: it was just sent, so it waits another QUEUE_LEASE
    with django_capture_on_commit_callbacks(execute=True):
        counts = services.runs_sweep(now=timezone.now() + services.QUEUE_LEASE + timedelta(minutes=2))
    assert counts["sent again"] == 0 and sent == [run.pk]


def test_a_requeued_run_is_sent_once_per_sweep(
    synced_course, monkeypatch, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    sent: list[int] = []
    run = _run(monkeypatch, sent)
    services.run_claim(run_id=run.pk)  # claimed, then its worker dies; long after, both leases have run out
    later = timezone.now() + services.RUN_LEASE + services.QUEUE_LEASE + timedelta(seconds=1)
    with django_capture_on_commit_callbacks(execute=True):
        counts = services.runs_sweep(now=later)
    assert (counts["requeued"], counts["sent again"]) == (1, 0) and sent == [run.pk]


def test_a_submission_while_the_broker_is_down_is_stored_and_sent_later(
    client, synced_course, monkeypatch, django_capture_on_commit_callbacks, caplog
) -> None:  # type: ignore[no-untyped-def]
    from django.urls import reverse
    from kombu.exceptions import OperationalError as BrokerError

    from config.celery import app

    def down(*args: object, **kwargs: object) -> None:
        raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(app, "send_task", down)
    client.force_login(user_create(username="ana"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("lab:submit", args=["cumulative-average-memory"]),
            {"code": Exercise.objects.get(slug="cumulative-average-memory").starter},
            headers={"HX-Request": "true"},
        )
    assert response.status_code == 200  # the student sees the queued run, not an error page
    run = GradingRun.objects.get()
    assert run.status == "queued" and "task was not sent" in caplog.text
    sent: list[int] = []
    monkeypatch.setattr(app, "send_task", lambda name, args, queue, **options: sent.append(args[0]))
    with django_capture_on_commit_callbacks(execute=True):
        services.runs_sweep(now=timezone.now() + services.QUEUE_LEASE + timedelta(seconds=1))
    assert sent == [run.pk]  # the broker is back: the sweeper sends it


def test_a_database_error_while_finishing_is_retried_not_lost(synced_course, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from django.db import OperationalError

    from apps.lab import tasks

    sent: list[int] = []
    run = _run(monkeypatch, sent)
    monkeypatch.setattr(services, "run_grade", lambda run: {"verdict": "passed", "score": 1.0, "checks": []})
    monkeypatch.setattr(tasks, "FINISH_BACKOFF_S", 0.0)
    # inside the test's transaction a "fresh connection" would close the test database itself
    monkeypatch.setattr(tasks, "close_old_connections", lambda: None)
    real_finish, failures = services.run_finish, []

    def flaky_finish(*, run, report):  # type: ignore[no-untyped-def]
        if len(failures) < 2:  # the database is away for the first two tries
            failures.append(1)
            raise OperationalError("server closed the connection unexpectedly")
        return real_finish(run=run, report=report)

    monkeypatch.setattr(services, "run_finish", flaky_finish)
    tasks.grade_run.run(run.pk)
    stored = GradingRun.objects.get(pk=run.pk)
    assert len(failures) == 2 and (stored.status, stored.verdict) == ("finished", "passed")


def test_the_sole_worker_at_its_start_requeues_what_its_predecessor_held_and_sends_the_queue_again(
    synced_course, monkeypatch, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    """`make run`'s worker (config/worker_recovery.py) does not wait for the leases: a run claimed before it
    started lost its worker, and every queued run's message may be lost with the broker or held by a dead
    consumer. A run claimed after its start is its own, and is left alone."""
    sent: list[int] = []
    orphan = _run(monkeypatch, sent)
    queued = services.submission_create(
        user=user_create(username="bo"), exercise=orphan.submission.exercise, source="y\n"
    ).runs.get()
    sent.clear()
    assert services.run_claim(run_id=orphan.pk) is not None  # the dead worker's
    started = timezone.now() + timedelta(seconds=1)
    with django_capture_on_commit_callbacks(execute=True):
        counts = services.runs_recover(claimed_before=started)
    assert counts == {"requeued": 1, "gave up": 0, "sent again": 1}
    assert sorted(sent) == sorted([orphan.pk, queued.pk])
    assert GradingRun.objects.get(pk=orphan.pk).status == "queued"
    mine = services.run_claim(run_id=orphan.pk)  # claimed again, by the new worker, after its start
    assert mine is not None
    with django_capture_on_commit_callbacks(execute=True):  # a reconnection: no claims are touched
        counts = services.runs_recover(claimed_before=None)
    assert counts == {"requeued": 0, "gave up": 0, "sent again": 1}
    assert GradingRun.objects.get(pk=orphan.pk).status == "running"
