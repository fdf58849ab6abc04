"""The Celery application. Workers: `celery -A config worker -Q grading,maintenance` (config.celery_settings.WORKER_ARGS)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("memlab")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def ensure_broker_folders(**_: object) -> None:
    make_broker_folders(app.conf.broker_transport_options or {})


def make_broker_folders(options: Mapping[str, object]) -> None:
    """The filesystem transport needs its folders before the first publish or poll."""
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if key in options:
            Path(str(options[key])).mkdir(parents=True, exist_ok=True)
