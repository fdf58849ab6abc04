"""The production topology file: the services, health checks and commands an operator relies on."""

from __future__ import annotations

import os
import subprocess
import sys
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
    assert worker[:4] == ["celery", "-A", "config", "worker"]
    # gradings, and the sweeper's own queue (so that its runs never wait behind a backlog of gradings)
    assert worker[worker.index("-Q") + 1].split(",") == ["grading", "maintenance"]
    from config.celery_settings import CELERY_BEAT_SCHEDULE, CELERY_TASK_ROUTES, WORKER_ARGS

    assert set(WORKER_ARGS) <= set(worker[1:])  # the tests' and benchmarks' workers start as compose's does

    assert CELERY_TASK_ROUTES["lab.sweep_runs"]["queue"] == "maintenance"
    assert CELERY_BEAT_SCHEDULE["sweep-runs"]["options"]["queue"] == "maintenance"


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


SANDBOX_CAPS = {"SYS_ADMIN", "SETUID", "SETGID", "SETPCAP", "KILL"}
SANDBOXED = ("worker", "grading-gpu")


def test_every_service_has_a_health_check() -> None:
    """Every long-running service; a one-shot job (migrate) is waited for by its exit status instead."""
    services = COMPOSE["services"]
    awaited = {
        dep
        for service in services.values()
        for dep, how in (service.get("depends_on") or {}).items()
        if how.get("condition") == "service_completed_successfully"
    }
    one_shot = {name for name in awaited if services[name].get("restart") == "no"}
    assert one_shot == {"migrate"}
    missing = [
        name for name, service in services.items() if "healthcheck" not in service and name not in one_shot
    ]
    assert not missing, f"no health check: {missing}"


def test_the_gpu_worker_is_optional_and_consumes_grading_gpu() -> None:
    gpu = COMPOSE["services"]["grading-gpu"]
    assert gpu["profiles"] == ["gpu"]  # started only with --profile gpu
    command = gpu["command"]
    assert (
        command[:4] == ["celery", "-A", "config", "worker"]
        and command[command.index("-Q") + 1] == "grading-gpu"
    )
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices)
    assert "celery -A config inspect ping" in " ".join(gpu["healthcheck"]["test"])
    # its sandbox uids differ from those of the CPU workers (README: MEMLAB_SANDBOX_SLOT_BASE)
    assert int(gpu["environment"]["MEMLAB_SANDBOX_SLOT_BASE"]) > 0
    assert "profiles" not in COMPOSE["services"]["worker"]  # the CPU workers always start


def test_workers_get_exactly_the_capabilities_the_sandbox_needs_each_documented() -> None:
    text = (Path(__file__).resolve().parents[1] / "docker-compose.yml").read_text()
    for name in SANDBOXED:
        service = COMPOSE["services"][name]
        assert service["cap_drop"] == ["ALL"] and set(service["cap_add"]) == SANDBOX_CAPS, name
        assert "apparmor=unconfined" in service["security_opt"], name  # mount(2), denied by docker-default
        assert not service.get("privileged"), name
    for cap in SANDBOX_CAPS:  # each one with a comment saying why
        line = next(line for line in text.splitlines() if line.strip().startswith(f"- {cap} "))
        assert "#" in line and len(line.split("#", 1)[1].strip()) > 20, f"{cap} is not explained"


def test_web_and_the_other_app_services_hold_no_capability() -> None:
    for name in ("web", "migrate", "beat"):
        service = COMPOSE["services"][name]
        assert "cap_add" not in service and not service.get("privileged"), name
        assert service["cap_drop"] == ["ALL"] and "no-new-privileges:true" in service["security_opt"], name
        assert "devices" not in service and "deploy" not in service, name


def test_the_web_app_never_loads_the_grader_that_runs_student_code() -> None:
    """Every URL's view loaded, as gunicorn's WSGI app: neither graders.grading (the sandbox's client) nor torch."""
    code = (
        "import sys\n"
        "from config.wsgi import application\n"
        "from django.urls import get_resolver\n"
        "def views(patterns):\n"
        "    return sum(views(p.url_patterns) if hasattr(p, 'url_patterns') else p.callback is not None\n"
        "               for p in patterns)\n"
        "print(views(get_resolver().url_patterns))\n"
        "import apps.lab.views, apps.lab.services, apps.lab.tasks  # what a submission touches\n"
        "print(sorted(m for m in sys.modules if m in {'torch', 'reference'} or m.startswith('graders.grading')))\n"
    )
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": "web-import-test-" + "x" * 40,
        "MEMLAB_VAR_DIR": os.environ.get("TMPDIR", "/tmp") + "/memlab-web-import-test",
    }
    repo = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    loaded_views, heavy = result.stdout.split()
    assert int(loaded_views) > 50  # every page of the site was imported
    assert heavy == "[]", heavy
