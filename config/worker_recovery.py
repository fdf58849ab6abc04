"""`make run`'s worker picks up at once what a dead worker or a restarted broker left behind.

With a Redis broker a task whose worker died unacknowledged comes back only after the visibility timeout (10 min),
and the sweeper requeues a run claimed by a dead worker only after its lease (5 min, above a grading's 290 s hard
limit, since the sweeper cannot tell a dead worker from a slow one). In the embedded setup the worker can tell:
supervisord runs exactly one worker on the setup's database and private broker (MEMLAB_SOLE_WORKER=1, set by
config/embedded.py), and restarts it when it dies. So, with ``install(app)``:

- At ``worker_init``, before the pool forks, the worker takes an exclusive ``flock`` on ``var/worker.lock``. Its
  pool processes and its beat inherit the locked file description, so the lock is free only once every process
  of every earlier worker of this setup is gone (Celery's pool processes die with their parent: it sets
  PR_SET_PDEATHSIG). The worker waits for it up to LOCK_WAIT_S.
- At its first connection to the broker, if it holds the lock, every run still running that was claimed before
  it started is requeued (services.runs_recover); every queued run is sent again. After each later reconnection
  (the broker restarted) the queued runs are sent again. A duplicate message finds its run claimed and does
  nothing; a run still ends with exactly one verdict (conditional updates).
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from datetime import UTC, datetime
from typing import Any

from celery import Celery, bootsteps
from celery.signals import worker_init

log = logging.getLogger(__name__)

LOCK_NAME = "worker.lock"
LOCK_WAIT_S = 60.0  # a pool process of the dead worker still alive: wait; then leave it to the leases


class _State:
    """This worker's start and whether it holds the lock (one worker per process)."""

    started: datetime | None = None
    holds_lock = False
    fd: int | None = None


def install(app: Celery) -> None:
    worker_init.connect(_take_lock, weak=False)
    app.steps["consumer"].add(Recover)


def _take_lock(**_: Any) -> None:
    from django.conf import settings

    _State.started = datetime.now(UTC)
    path = settings.VAR_DIR / LOCK_NAME
    # kept open for the worker's life; inherited by every process forked from here on, never by an exec
    _State.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    _State.holds_lock = wait_for_lock(_State.fd, LOCK_WAIT_S)
    if not _State.holds_lock:
        log.warning(
            "%s is still held after %.0f s: processes of an earlier worker live on, so their runs are left to "
            "the sweeper's leases",
            path,
            LOCK_WAIT_S,
        )


def wait_for_lock(fd: int, timeout: float, poll_s: float = 0.2) -> bool:
    """Take an exclusive flock on ``fd``, trying until ``timeout``; whether it was taken."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll_s)


class Recover(bootsteps.StartStopStep):
    """A consumer step: runs at every (re)connection to the broker, once the task consumer is set up and before
    the event loop delivers anything."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.first = True

    def start(self, parent: Any) -> None:
        from django.db import connections

        from apps.lab import services

        when = "start" if self.first else "reconnection to the broker"
        claimed_before = _State.started if self.first and _State.holds_lock else None
        self.first = False
        try:
            counts = services.runs_recover(claimed_before=claimed_before)
        finally:
            connections.close_all()  # nothing open in the process that forks replacement pool processes
        level = logging.WARNING if any(counts.values()) else logging.INFO
        log.log(level, "recovery at %s: %s", when, counts)
