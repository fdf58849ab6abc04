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
