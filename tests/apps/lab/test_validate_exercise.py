"""An instructor validates an exercise through the workers and sees its mutation score."""

from __future__ import annotations

from django.urls import reverse

from apps.lab import services
from apps.lab.models import ValidationRun
from tests.support.factories import user_create

SLUG = "cumulative-average-memory"


def test_a_validation_is_queued_run_by_the_worker_and_scored(  # type: ignore[no-untyped-def]
    client, synced_course, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    from config.celery import app

    sent: list[tuple[str, list[int]]] = []
    monkeypatch.setattr(app, "send_task", lambda name, args, queue, **options: sent.append((name, args)))
    client.force_login(user_create(username="prof", role="instructor"))
    url = reverse("lab:validate", args=[SLUG])
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url).status_code == 302
    validation = ValidationRun.objects.get()
    assert sent == [(services.VALIDATE_TASK, [validation.pk])]  # the web only queues it
    assert 'hx-trigger="every 1s"' in client.get(url, headers={"HX-Request": "true"}).content.decode()

    services.validation_run(validation_id=validation.pk)  # what the worker's task does
    validation.refresh_from_db()
    assert validation.status == "finished" and validation.result["ok"] is True
    assert validation.mutation_score == 1.0
    page = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in page and "mutation score <strong data-mutation-score>100 %" in page
    assert "wrong/divide_by_i.py" in page and "expected fails correctness" in page
    services.validation_run(validation_id=validation.pk)  # a redelivered task changes nothing
    assert ValidationRun.objects.get().finished_at == validation.finished_at


def test_a_validation_past_its_soft_time_limit_is_stored_as_failed_with_the_reason(  # type: ignore[no-untyped-def]
    client, synced_course, monkeypatch
) -> None:
    """Celery raises SoftTimeLimitExceeded inside the task at the soft limit: the validation must not stay queued
    (the page would poll forever) but end, saying why; a later redelivery changes nothing."""
    from celery.exceptions import SoftTimeLimitExceeded

    from apps.lab import tasks
    from apps.lab.models import Exercise

    prof = user_create(username="prof", role="instructor")
    validation = ValidationRun.objects.create(exercise=Exercise.objects.get(slug=SLUG), created_by=prof)

    def too_slow(*, validation_id: int) -> None:
        raise SoftTimeLimitExceeded()

    from graders.sandbox import host

    restarted: list[bool] = []
    monkeypatch.setattr(host, "restart", lambda: restarted.append(True))
    monkeypatch.setattr(services, "validation_run", too_slow)
    tasks.validate_exercise(validation.pk)
    assert restarted == [True]  # the sandbox, maybe interrupted mid-reply, is replaced
    validation.refresh_from_db()
    assert validation.status == "finished" and validation.result["ok"] is False
    assert "did not finish within 540 s" in validation.result["problems"][0]
    client.force_login(prof)
    page = client.get(reverse("lab:validate", args=[SLUG]), headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in page and "did not finish within 540 s" in page
    assert services.validation_give_up(validation_id=validation.pk, reason="again") is False


def test_the_validation_task_has_time_limits_below_the_visibility_timeout() -> None:
    from config import celery_settings as cs
    from config.celery import app

    app.loader.import_default_modules()
    task = app.tasks[services.VALIDATE_TASK]
    assert (task.soft_time_limit, task.time_limit) == (
        cs.VALIDATE_SOFT_TIME_LIMIT_S,
        cs.VALIDATE_TIME_LIMIT_S,
    )
    assert cs.REDIS_VISIBILITY_TIMEOUT_S > cs.VALIDATE_TIME_LIMIT_S > cs.VALIDATE_SOFT_TIME_LIMIT_S
