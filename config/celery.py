"""The Celery application. Workers: `celery -A config worker -Q grading,maintenance` (config.celery_settings.WORKER_ARGS)."""

from __future__ import annotations

import os
import threading

from celery import Celery, platforms
from celery.signals import beat_init, worker_init

from config.env import env_bool

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("memlab")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

if env_bool("MEMLAB_SOLE_WORKER", False):  # `make run`'s worker (config/embedded.py)
    from config.worker_recovery import install

    install(app)


class WorkerMain:
    """The worker's main process and its main thread, set at worker_init; read in it and in what it forks."""

    pid: int | None = None
    thread: int | None = None


@worker_init.connect
def _remember_worker(**_: object) -> None:
    WorkerMain.pid, WorkerMain.thread = os.getpid(), threading.get_ident()


@beat_init.connect
def _beat_dies_with_its_worker(**_: object) -> None:
    """A worker's embedded beat (``-B``, as `make run` starts it) must die with the worker. Celery gives its pool
    processes PR_SET_PDEATHSIG but not its beat: after a SIGKILL of the worker the beat lived on, an orphan
    sending every sweep a second time beside the restarted worker's own beat. A standalone `celery beat` never
    ran worker_init and is left alone."""
    if WorkerMain.pid is None or WorkerMain.pid == os.getpid():
        return
    platforms.set_pdeathsig("SIGKILL")
    if os.getppid() != WorkerMain.pid:  # the worker died before the line above: the signal will never come
        os._exit(1)
