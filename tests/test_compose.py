"""The production topology file: the services, health checks and commands an operator relies on."""

from __future__ import annotations

from pathlib import Path

import yaml

COMPOSE = yaml.safe_load((Path(__file__).resolve().parents[1] / "docker-compose.yml").read_text())


def test_services_and_health_checks() -> None:
    services = COMPOSE["services"]
    assert {"postgres", "redis", "web", "worker"} <= set(services)
    for name in ("postgres", "redis", "web", "worker"):
        assert "healthcheck" in services[name], f"{name} has no health check"


def test_web_runs_gunicorn_and_worker_consumes_grading() -> None:
    dockerfile = (Path(__file__).resolve().parents[1] / "Dockerfile").read_text()
    assert 'CMD ["gunicorn", "config.wsgi:application"' in dockerfile
    worker = COMPOSE["services"]["worker"]["command"]
    assert worker[:4] == ["celery", "-A", "config", "worker"] and worker[worker.index("-Q") + 1] == "grading"


def test_production_settings_are_required() -> None:
    env = COMPOSE["x-app"]["environment"]
    assert env["DJANGO_DEBUG"] == "0"
    assert env["DATABASE_URL"].startswith("postgres://") and env["CELERY_BROKER_URL"].startswith("redis://")
    assert "?" in env["DJANGO_SECRET_KEY"]  # compose refuses to start without a secret


def test_beat_schedules_the_sweeper() -> None:
    beat = COMPOSE["services"]["beat"]
    assert beat["command"][:4] == ["celery", "-A", "config", "beat"] and "healthcheck" in beat
    from config.celery_settings import CELERY_BEAT_SCHEDULE

    assert CELERY_BEAT_SCHEDULE["sweep-runs"]["task"] == "lab.sweep_runs"
