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

from config.celery_settings import worker_command

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
def private_redis(folder: Path) -> Iterator[str]:
    """The private Redis that `make run` starts (config.embedded.broker_argv: a unix socket only, an append-only
    file), in ``folder``; yields its kombu URL and stops it (SIGTERM) afterwards. Its log is ``folder/redis.log``."""
    from config import embedded

    folder.mkdir(parents=True, exist_ok=True)
    socket = embedded.ensure_socket_dir(embedded.socket_dir(folder)) / "redis.sock"
    (folder / "redis").mkdir(exist_ok=True)
    with (folder / "redis.log").open("wb") as out:
        server = subprocess.Popen(
            embedded.broker_argv(socket, folder / "redis"),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_redis(socket, server, folder / "redis.log")
        yield f"redis+socket://{socket}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_for_redis(socket: Path, server: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    """Until the Redis on ``socket`` answers PING."""
    import redis

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"redis-server exited with {server.returncode}:\n{log.read_text()[-2000:]}")
        client = redis.Redis(unix_socket_path=str(socket))
        try:
            if client.ping():
                return
        except redis.ConnectionError:
            pass
        finally:
            client.close()
        time.sleep(0.05)
    raise RuntimeError(f"redis-server did not answer on {socket} within {timeout} s")


@contextmanager
def embedded_worker(tmp_path: Path, database_url: str) -> Iterator[subprocess.Popen[bytes]]:
    """The embedded default topology: a real worker on a private Redis as `make run` starts one (on a unix
    socket under ``tmp_path/var``), on ``database_url``, and this process sending to it. The worker's log is
    ``tmp_path/worker.log``."""
    with (
        private_redis(tmp_path / "var") as url,
        celery_worker(database_url=database_url, broker_url=url, log=tmp_path / "worker.log") as worker,
        broker(url),
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
