"""End to end through a real Celery worker: Django test client → broker → worker → sandbox → stored report.

Two topologies: the embedded defaults (SQLite + `make run`'s private Redis on a unix socket) in the main pass,
and production (PostgreSQL + Redis) in the PostgreSQL pass of `make test` (marker `pg`).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.urls import reverse

from apps.lab.models import GradingRun, Submission
from tests.support.services import require_service
from tests.support.worker import broker, celery_worker, embedded_worker, wait_for_verdict

HONEST = """import torch

def init_memory(d):
    return {"k": torch.zeros(d), "v": torch.zeros(d), "n": torch.zeros(())}

def update(mem, k, v):
    n = mem["n"]
    # Mem_i = ((k_i, v_i) + i * Mem_{i-1}) / (i + 1), with i = pairs seen so far
    return {"k": (k + n * mem["k"]) / (n + 1), "v": (v + n * mem["v"]) / (n + 1), "n": n + 1}
"""

HISTORY = """import torch

SEEN = []

def init_memory(d):
    return {"k": torch.zeros(d), "v": torch.zeros(d), "n": torch.zeros(())}

def update(mem, k, v):
    SEEN.append((k.clone(), v.clone()))  # a hidden, growing history: not a recurrence
    ks = torch.stack([p[0] for p in SEEN]); vs = torch.stack([p[1] for p in SEEN])
    return {"k": ks.mean(0), "v": vs.mean(0), "n": torch.tensor(float(len(SEEN)))}
"""


def _submit_and_wait(client, source: str) -> GradingRun:  # type: ignore[no-untyped-def]
    url = reverse("lab:submit", args=["cumulative-average-memory"])
    response = client.post(url, {"code": source}, headers={"HX-Request": "true"})
    assert response.status_code == 200, response.content
    run = GradingRun.objects.get(submission=Submission.objects.latest("created_at"))
    return wait_for_verdict(run.pk)


def _grade_two(client) -> None:  # type: ignore[no-untyped-def]
    honest = _submit_and_wait(client, HONEST)
    assert honest.verdict == "passed", honest.report
    assert honest.score == 1.0 and honest.attempt == 1
    assert {c["id"] for c in honest.report["checks"]} >= {"interface", "correctness", "recurrence"}
    page = client.get(
        reverse("lab:run-status", args=[honest.pk]), headers={"HX-Request": "true"}
    ).content.decode()
    assert 'data-verdict="passed"' in page and "hx-trigger" not in page

    cheat = _submit_and_wait(client, HISTORY)
    assert cheat.verdict == "failed"
    recurrence = next(c for c in cheat.report["checks"] if c["id"] == "recurrence")
    assert not recurrence["passed"] and "fresh process" in recurrence["message"]


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_embedded_defaults_sqlite_and_private_redis(client, student, synced_course, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert connection.vendor == "sqlite"
    client.force_login(student)
    with embedded_worker(tmp_path, f"sqlite:///{connection.settings_dict['NAME']}"):
        _grade_two(client)


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.pg
@pytest.mark.django_db(transaction=True)
def test_production_topology_postgresql_and_redis(client, student, synced_course, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    require_service("Redis", "127.0.0.1", 6379)
    assert connection.vendor == "postgresql"
    settings = connection.settings_dict
    database_url = f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
    # A Redis database of its own per run, so that no other worker on this Redis can take these tasks.
    redis_url = f"redis://127.0.0.1:6379/{uuid.uuid4().int % 14 + 1}"
    client.force_login(student)
    with (
        celery_worker(database_url=database_url, broker_url=redis_url, log=tmp_path / "worker.log"),
        broker(redis_url),
    ):
        _grade_two(client)
