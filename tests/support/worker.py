"""A real Celery worker process for integration tests, and pointing this process's Celery app at its broker."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from config.celery_settings import filesystem_transport_options, worker_command

REPO = Path(__file__).resolve().parents[2]


@contextmanager
def broker(url: str, transport_options: dict[str, Any] | None = None) -> Iterator[None]:
    """Send this process's tasks to `url` (the test settings default to an in-memory broker)."""
    from config.celery import app

    saved = (app.conf.broker_url, app.conf.broker_transport_options)

    def reset_pools() -> None:
        # Celery caches a connection pool and a producer pool built from the broker URL; drop both so the next
        # publish builds them from the new URL (kombu keeps one pool per URL, so none is closed here).
        app._pool = None
        app.amqp._producer_pool = None

    app.conf.broker_url, app.conf.broker_transport_options = url, transport_options or {}
    reset_pools()
    try:
        yield
    finally:
        app.conf.broker_url, app.conf.broker_transport_options = saved
        reset_pools()


@contextmanager
def embedded_worker(tmp_path: Path, database_url: str) -> Iterator[subprocess.Popen[bytes]]:
    """The embedded default topology: a real worker on the kombu filesystem broker under ``tmp_path/broker``, on
    ``database_url``, and this process sending to it. The worker's log is ``tmp_path/worker.log``."""
    from config.celery import make_broker_folders

    root = tmp_path / "broker"
    options = filesystem_transport_options(root)
    make_broker_folders(options)
    with (
        celery_worker(
            database_url=database_url,
            broker_url="filesystem://",
            log=tmp_path / "worker.log",
            extra_env={"MEMLAB_BROKER_DIR": str(root)},
        ) as worker,
        broker("filesystem://", options),
    ):
        yield worker


@contextmanager
def celery_worker(
    *,
    database_url: str,
    broker_url: str,
    log: Path,
    extra_env: dict[str, str] | None = None,
    concurrency: int = 1,
    beat_schedule: Path | None = None,
    name: str = "test",
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `celery -A config worker -Q grading,maintenance` on the given database and broker; stop it afterwards.

    The worker leads a process group of its own (its pool processes and, with ``beat_schedule``, an embedded
    beat running the sweeper): a fault test may SIGKILL the whole group with ``os.killpg(worker.pid, …)``."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": "integration-test-key-" + "x" * 40,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    cmd = [*worker_command(concurrency=concurrency, name=f"{name}-{os.getpid()}@%h"), "--without-heartbeat"]
    if beat_schedule is not None:
        cmd += ["-B", "--schedule", str(beat_schedule)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_ready(process, log)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # the pool processes too, not only the main one
            process.wait()


def _wait_ready(process: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the Celery worker exited with {process.returncode}:\n{log.read_text()[-4000:]}"
            )
        if " ready." in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise RuntimeError(f"the Celery worker was not ready after {timeout} s:\n{log.read_text()[-4000:]}")


def wait_for_verdict(run_id: int, timeout: float = 120) -> Any:
    """Poll the database (as the web page does) until the run is finished."""
    from apps.lab.models import GradingRun

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = GradingRun.objects.get(pk=run_id)
        if run.status == GradingRun.Status.FINISHED:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} not graded after {timeout} s (status {run.status})")
