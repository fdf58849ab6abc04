"""Settings come from the environment; production refuses to start without a secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = "import django; django.setup(); from django.conf import settings; print(settings.DATABASES['default']['ENGINE'], settings.CELERY_BROKER_URL, settings.DEBUG)"
    clean = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "config.settings", **env}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=clean, capture_output=True, text=True, timeout=60
    )


def test_debug_off_without_secret_stops_with_a_clear_message(tmp_path: Path) -> None:
    result = _load_settings({"DJANGO_DEBUG": "0", "MEMLAB_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set and DJANGO_DEBUG is off" in result.stderr


def test_debug_on_generates_a_dev_key_in_var(tmp_path: Path) -> None:
    result = _load_settings({"DJANGO_DEBUG": "1", "MEMLAB_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "dev-secret-key").stat().st_mode & 0o777 == 0o600
    # the embedded broker: `make run`'s private Redis on a unix socket under var/
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        f"redis+socket://{tmp_path}/redis.sock",
        "True",
    ]


def test_production_settings_come_from_environment_variables(tmp_path: Path) -> None:
    result = _load_settings(
        {
            "DJANGO_SECRET_KEY": "s" * 50,
            "DATABASE_URL": "postgres://memlab:pw@db:5432/memlab",
            "CELERY_BROKER_URL": "redis://redis:6379/0",
            "MEMLAB_VAR_DIR": str(tmp_path),
        }
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "redis://redis:6379/0", "False"]


def test_an_unreadable_boolean_is_an_error(tmp_path: Path) -> None:
    result = _load_settings({"DJANGO_DEBUG": "maybe", "MEMLAB_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "DJANGO_DEBUG='maybe' is not a boolean" in result.stderr


@pytest.mark.parametrize("module", ["graders", "reference"])
def test_grader_and_reference_never_import_django_or_celery(module: str) -> None:
    code = (
        f"import sys, {module}; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'celery', 'kombu', 'apps', 'config'}); "
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"importing {module} pulled in: {result.stdout.strip()}"


def test_check_deploy_is_clean_with_production_settings(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": "k" * 20 + "Aq9#kLm2$pZ7!rT5^wY3&uI8*oP1(sD4)fG6",
        "DATABASE_URL": "postgres://memlab:pw@db:5432/memlab",
        "CELERY_BROKER_URL": "redis://redis:6379/0",
        "DJANGO_ALLOWED_HOSTS": "memlab.example.org",
        "MEMLAB_VAR_DIR": str(tmp_path),
    }
    cmd = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
