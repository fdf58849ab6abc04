"""Practice runs ("Run on examples"): a student's code on the exercise's visible cases, for feedback only.

The web stores a PracticeRun and sends ``lab.practice_run`` to the grading queue (the web never runs student
code); a worker grades it with ``examples_only`` and stores the report. Nothing here touches the gradebook, the
attempts or the hints. Rate-limited on its own budget, looser than submissions' (it reveals nothing hidden).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.lab.models import Exercise, PracticeRun
from apps.lab.selectors import window_wait

log = logging.getLogger(__name__)

PRACTICE_TASK = "lab.practice_run"
PRACTICE_PER_WINDOW = 10
WINDOW = timedelta(minutes=1)
STALE = timedelta(
    minutes=2
)  # a run still queued after this is shown as lost (a worker was away); run it again


def rate_limit_wait(*, user: User, exercise: Exercise, now: datetime) -> int:
    """Seconds until ``user`` may run ``exercise``'s examples again (0: now)."""
    mine = PracticeRun.objects.filter(user=user, exercise=exercise)
    return window_wait(mine, limit=PRACTICE_PER_WINDOW, window=WINDOW, now=now)


def rate_limit_message(wait_s: int) -> str:
    return (
        f"You have run the examples {PRACTICE_PER_WINDOW} times in the last minute: wait {wait_s} s before the "
        "next run."
    )


@transaction.atomic
def practice_create(*, user: User, exercise: Exercise, source: str) -> PracticeRun:
    """Store the run and send its task once committed (if the broker is away, the page says so after STALE)."""
    practice = PracticeRun.objects.create(user=user, exercise=exercise, source=source)
    transaction.on_commit(lambda: _send(practice.pk))
    return practice


def _send(practice_id: int) -> None:
    from kombu.exceptions import KombuError

    from config.celery import app

    try:
        app.send_task(
            PRACTICE_TASK, args=[practice_id], queue="grading", time_limit=None, soft_time_limit=None
        )
    except (KombuError, OSError):
        log.exception("practice run %s is stored but its task was not sent (broker unavailable)", practice_id)


def practice_claim(*, practice_id: int) -> PracticeRun | None:
    """Mark a queued run as running (None if it is not queued: a duplicate message, say)."""
    claimed = PracticeRun.objects.filter(pk=practice_id, status=PracticeRun.Status.QUEUED).update(
        status=PracticeRun.Status.RUNNING
    )
    return PracticeRun.objects.select_related("exercise").get(pk=practice_id) if claimed else None


def practice_grade(*, practice: PracticeRun) -> dict[str, Any]:
    """The examples-only report of the run's code (in a worker: imports the grader). GraderError on faults."""
    import graders

    spec = graders.ExerciseSpec.from_dict(practice.exercise.spec)
    return graders.grade(spec, practice.source.encode("utf-8"), examples_only=True).to_dict()


def practice_finish(*, practice: PracticeRun, report: dict[str, Any] | None, error: str = "") -> None:
    practice.status = PracticeRun.Status.FINISHED if report is not None else PracticeRun.Status.FAILED
    practice.report = report
    practice.error = error
    practice.finished_at = timezone.now()
    practice.save(update_fields=["status", "report", "error", "finished_at"])


def is_stale(practice: PracticeRun, *, now: datetime | None = None) -> bool:
    """Still queued long after it was sent: no worker took it."""
    return (
        practice.status == PracticeRun.Status.QUEUED and (now or timezone.now()) - practice.created_at > STALE
    )
