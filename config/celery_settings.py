"""Celery integration settings (read by config.celery through the CELERY_ namespace).

Embedded default: the private Redis that `make run` starts (config/embedded.py) on a unix socket under var/, so
local runs use the same transport as production (visibility timeout, late acks, redelivery). Production:
CELERY_BROKER_URL=redis://… (RabbitMQ works too).
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.embedded import broker_url
from config.env import env_str


def env_seconds(name: str, default: float) -> float:
    """A positive number of seconds from the environment (fault tests shorten the leases and intervals)."""
    raw = env_str(name, "")
    if not raw.strip():
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a positive number of seconds.")
    return value


_VAR_DIR = Path(env_str("MEMLAB_VAR_DIR", str(Path(__file__).resolve().parent.parent / "var")))

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", broker_url(_VAR_DIR.absolute()))
if CELERY_BROKER_URL.startswith("filesystem"):
    # kombu's filesystem transport reads message files that may still be half written (an open upstream race):
    # the worker died of a JSONDecodeError, and with it `make run`'s web server
    raise ImproperlyConfigured(
        "CELERY_BROKER_URL=filesystem:// is no longer supported: the kombu filesystem transport crashes the "
        "worker on half-written messages. Unset CELERY_BROKER_URL to use the private Redis that `make run` "
        "starts, or point it at a Redis server (redis://…)."
    )
# Redis: a task whose worker died unacknowledged is delivered again after this long. It must exceed the hard
# time limit of a grading (below), or a grading still running would be delivered a second time.
REDIS_VISIBILITY_TIMEOUT_S = env_seconds("MEMLAB_REDIS_VISIBILITY_TIMEOUT_S", 600)
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("redis"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": REDIS_VISIBILITY_TIMEOUT_S}

# JSON only: nothing produced near student code is ever unpickled, and task arguments are ids.
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Results live in the app's own tables (GradingRun), not in a Celery result backend.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "grading"
# what every grading worker is started with (docker-compose.yml, bin/run-local, the tests' and benchmarks'
# workers): the gradings and the sweeper's own queue; no gossip or mingle (workers never need each other's state)
WORKER_QUEUES = "grading,maintenance"
WORKER_ARGS = ["-A", "config", "worker", "-Q", WORKER_QUEUES, "--without-gossip", "--without-mingle"]


def worker_command(*, concurrency: int, name: str) -> list[str]:
    """A grading worker started as docker-compose.yml starts one, with this interpreter (tests, benchmarks)."""
    return [sys.executable, "-m", "celery", *WORKER_ARGS, "--concurrency", str(concurrency), "--loglevel", "INFO",
            "-n", name]  # fmt: skip


# the sweeper has a queue of its own, which every worker also consumes: on "grading" its messages would wait
# behind a backlog of gradings while the runs of a dead worker wait for it
CELERY_TASK_ROUTES = {
    "lab.grade_run": {"queue": "grading"},
    "lab.practice_run": {"queue": "grading"},
    "lab.sweep_runs": {"queue": "maintenance"},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A lost broker connection (Redis restarted) is retried by the worker's consumer (broker_connection_retry, on by
# default); the gradings already running finish and store their reports in the database. Messages the broker
# lost are sent again by the sweeper (apps.lab.services.runs_sweep).

# Time limits of one grading (lab.grade_run), nested above the sandbox's own: a grading runs at most
# GRADING_JOBS sandbox jobs (visible cases, hidden cases, then recurrence + purity + the long run of state_size
# and step_cost in one job, and recurrence + purity again if that long run failed; or, for sequence exercises,
# visible, hidden, causality, complexity), each killed by the sandbox at
# the exercise's wall limit, at most MAX_WALL_S (graders.exercise.LIMIT_MAXIMA); a failing submission adds the
# budgeted counterexample search (graders.checks.shrink: 3 s, and its last job at most 2 s). Numbers repeated
# here so that settings never import the grader; tests/apps/lab/test_faults.py checks them against graders/.
# At the soft limit the task gives the run back and retries it (apps.lab.tasks); at the hard limit the pool
# process is killed and the sweeper requeues the run once its lease (MEMLAB_RUN_LEASE_S, 300 s) runs out.
# Nesting: GRADING_JOBS × MAX_WALL_S (240) < soft (270) < hard (290) < run lease (300) < visibility (600).
GRADING_JOBS = 4
MAX_WALL_S = 60.0
GRADE_SOFT_TIME_LIMIT_S = env_seconds("MEMLAB_GRADE_SOFT_TIME_LIMIT_S", 270)
GRADE_TIME_LIMIT_S = env_seconds("MEMLAB_GRADE_TIME_LIMIT_S", 290)
if not GRADE_TIME_LIMIT_S > GRADE_SOFT_TIME_LIMIT_S:
    raise ImproperlyConfigured("MEMLAB_GRADE_TIME_LIMIT_S must exceed MEMLAB_GRADE_SOFT_TIME_LIMIT_S.")
# An instructor's validation (lab.validate_exercise) grades the solution and every known-wrong variant: seconds
# for a sound exercise, but variants that each run to the wall limit could hold a worker for long. At the soft
# limit the validation is stored as failed, with the reason (apps.lab.tasks); both limits stay below the Redis
# visibility timeout, so a validation that is still running is never delivered to a second worker.
VALIDATE_SOFT_TIME_LIMIT_S = env_seconds("MEMLAB_VALIDATE_SOFT_TIME_LIMIT_S", 540)
VALIDATE_TIME_LIMIT_S = env_seconds("MEMLAB_VALIDATE_TIME_LIMIT_S", 570)
if not VALIDATE_TIME_LIMIT_S > VALIDATE_SOFT_TIME_LIMIT_S:
    raise ImproperlyConfigured("MEMLAB_VALIDATE_TIME_LIMIT_S must exceed MEMLAB_VALIDATE_SOFT_TIME_LIMIT_S.")
CELERY_TASK_ANNOTATIONS = {
    "lab.grade_run": {"soft_time_limit": GRADE_SOFT_TIME_LIMIT_S, "time_limit": GRADE_TIME_LIMIT_S},
    # a practice run is the visible job of a grading (plus a counterexample search): a grading's limits bound it
    "lab.practice_run": {"soft_time_limit": GRADE_SOFT_TIME_LIMIT_S, "time_limit": GRADE_TIME_LIMIT_S},
    "lab.validate_exercise": {
        "soft_time_limit": VALIDATE_SOFT_TIME_LIMIT_S,
        "time_limit": VALIDATE_TIME_LIMIT_S,
    },
}
CELERY_TIMEZONE = "UTC"
# The sweeper (apps.lab.services.runs_sweep), run by `celery -A config beat` (docker-compose service `beat`).
# A sweep not started within 90 % of the interval is dropped: the next one is already on its way.
SWEEP_INTERVAL_S = env_seconds("MEMLAB_SWEEP_INTERVAL_S", 60)
CELERY_BEAT_SCHEDULE = {
    "sweep-runs": {
        "task": "lab.sweep_runs",
        "schedule": SWEEP_INTERVAL_S,
        "options": {"queue": "maintenance", "expires": round(SWEEP_INTERVAL_S * 0.9, 3)},
    },
}
