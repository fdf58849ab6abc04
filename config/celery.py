"""The Celery application. Workers: `celery -A config worker -Q grading,maintenance` (config.celery_settings.WORKER_ARGS)."""

from __future__ import annotations

import os

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


class _Worker:
    pid: int | None = None  # the worker's main process, in it and in the processes it forks


@worker_init.connect
def _remember_worker(**_: object) -> None:
    _Worker.pid = os.getpid()


@beat_init.connect
def _beat_dies_with_its_worker(**_: object) -> None:
    """A worker's embedded beat (``-B``, as `make run` starts it) must die with the worker. Celery gives its pool
    processes PR_SET_PDEATHSIG but not its beat: after a SIGKILL of the worker the beat lived on, an orphan
    sending every sweep a second time beside the restarted worker's own beat. A standalone `celery beat` never
    ran worker_init and is left alone."""
    if _Worker.pid is None or _Worker.pid == os.getpid():
        return
    platforms.set_pdeathsig("SIGKILL")
    if os.getppid() != _Worker.pid:  # the worker died before the line above: the signal will never come
        os._exit(1)
