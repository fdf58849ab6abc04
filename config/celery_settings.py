"""Celery integration settings (read by config.celery through the CELERY_ namespace).

Embedded default: the kombu filesystem transport under var/broker, polled every 0.05 s (the default 1 s poll
would add a second to every verdict). Production: CELERY_BROKER_URL=redis://… (RabbitMQ works too).
"""

from __future__ import annotations

from pathlib import Path

from config.env import env_str

_VAR_DIR = Path(env_str("MEMLAB_VAR_DIR", str(Path(__file__).resolve().parent.parent / "var")))
BROKER_DIR = Path(env_str("MEMLAB_BROKER_DIR", str(_VAR_DIR / "broker")))

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.05,
    }
elif CELERY_BROKER_URL.startswith("redis"):
    # A task whose worker died is redelivered after this long (must exceed the longest grading).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600}

# JSON only: nothing produced near student code is ever unpickled, and task arguments are ids.
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Results live in the app's own tables (GradingRun), not in a Celery result backend.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "grading"
CELERY_TASK_ROUTES = {"lab.grade_run": {"queue": "grading"}}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# The sweeper (apps.lab.services.runs_sweep), run by `celery -A config beat` (docker-compose service `beat`).
CELERY_BEAT_SCHEDULE = {
    "sweep-runs": {
        "task": "lab.sweep_runs",
        "schedule": 60.0,
        "options": {"queue": "grading", "expires": 55},
    },
}
