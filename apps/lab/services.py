"""Every write of the lab app: submissions and the life of a grading run.

A run moves queued → running → finished through conditional UPDATEs, so that two workers (or a redelivered
task) can never both grade it, and a worker that lost its claim can never overwrite a newer result.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.accounts.models import User
from apps.lab.models import Exercise, GradingRun, RegradeBatch, Submission, ValidationRun
from apps.upsert import upsert_by_slug

log = logging.getLogger(__name__)

GRADE_TASK = "lab.grade_run"
VALIDATE_TASK = "lab.validate_exercise"
SWEEP_TASK = "lab.sweep_runs"
GRADING_QUEUE = "grading"
# the sweeper's own queue, which every worker also consumes: behind a backlog of gradings on "grading" its
# messages would wait (and expire) while the runs of a dead worker wait for it
MAINTENANCE_QUEUE = "maintenance"


def _enqueue(run_id: int) -> bool:
    """Send the run's grading task (by name: the web process never imports the grader, and with it torch).

    Called once the run is committed. If the broker is away the submission is already stored, so this logs and
    returns False instead of failing the student's request; the sweeper sends the task again once the run has
    waited QUEUE_LEASE."""
    from kombu.exceptions import KombuError

    from config.celery import app

    try:
        # No time limits in the message: the worker's own (config.celery_settings) apply. Otherwise Celery copies
        # the limits the *sending* process has for a task it knows into the message, and they override the worker's.
        app.send_task(GRADE_TASK, args=[run_id], queue=GRADING_QUEUE, time_limit=None, soft_time_limit=None)
    except (KombuError, OSError):
        log.exception(
            "run %s is stored but its task was not sent (broker unavailable); the sweeper resends it", run_id
        )
        return False
    log.info("run %s enqueued", run_id)
    return True


@transaction.atomic
def submission_create(*, user: User, exercise: Exercise, source: str) -> Submission:
    """Store a (pre-validated) submission with a queued run; the task is sent only once both rows exist."""
    late = exercise.deadline is not None and timezone.now() > exercise.deadline
    submission = Submission.objects.create(
        user=user,
        exercise=exercise,
        source=source,
        sha256=hashlib.sha256(source.encode()).hexdigest(),
        late=late,
    )
    run = GradingRun.objects.create(submission=submission)
    transaction.on_commit(lambda: _enqueue(run.pk))
    return submission


def run_claim(*, run_id: int) -> GradingRun | None:
    """Take a queued run for grading. None when it is not queued: already claimed, finished or gone."""
    claimed = GradingRun.objects.filter(pk=run_id, status=GradingRun.Status.QUEUED).update(
        status=GradingRun.Status.RUNNING, started_at=timezone.now(), attempt=F("attempt") + 1
    )
    if not claimed:
        return None
    return GradingRun.objects.select_related("submission__exercise").get(pk=run_id)


def run_finish(*, run: GradingRun, report: dict[str, Any]) -> bool:
    """Store the report if this claim still owns the run; False means another claim finished it."""
    updated = GradingRun.objects.filter(
        pk=run.pk, status=GradingRun.Status.RUNNING, attempt=run.attempt
    ).update(
        status=GradingRun.Status.FINISHED,
        verdict=report["verdict"],
        score=report.get("score"),
        report=report,
        finished_at=timezone.now(),
    )
    log.info(
        "run %s finished: %s (attempt %s, stored=%s)", run.pk, report["verdict"], run.attempt, bool(updated)
    )
    return bool(updated)


def run_release(*, run: GradingRun, now: datetime | None = None) -> bool:
    """Give a run back to the queue after an infrastructure fault, so a retry can claim it again."""
    updated = GradingRun.objects.filter(
        pk=run.pk, status=GradingRun.Status.RUNNING, attempt=run.attempt
    ).update(status=GradingRun.Status.QUEUED, sent_at=now or timezone.now())
    return bool(updated)


def run_grade(*, run: GradingRun) -> dict[str, Any]:
    """Grade the run's submission in the sandbox. Raises graders.GraderError for infrastructure faults only."""
    import graders  # imported here: only worker processes load the grader and torch

    spec = graders.ExerciseSpec.from_dict(run.submission.exercise.spec)
    return graders.grade(spec, run.submission.source.encode("utf-8")).to_dict()


def run_give_up(*, run: GradingRun, reason: str) -> bool:
    """After the last retry: store an internal_error report, which is never blamed on the student."""
    import graders

    spec = graders.ExerciseSpec.from_dict(run.submission.exercise.spec)
    report = graders.internal_error_report(spec, run.submission.source.encode("utf-8"), reason)
    return run_finish(run=run, report=report.to_dict())


def run_plot_svg(*, run: GradingRun, check_id: str) -> str | None:
    """The SVG of the plot that check ``check_id`` of the run's report carries, or None if it has none.

    Drawn on request (matplotlib, in graders.plots) rather than while grading, so a verdict never waits for it.
    Plots hold only visible inputs: the grader never plots a hidden case.
    """
    checks = (run.report or {}).get("checks", [])
    plot = next((c.get("plot") for c in checks if isinstance(c, dict) and c.get("id") == check_id), None)
    if not isinstance(plot, dict):
        return None
    import graders

    return graders.plot_svg(plot)  # matplotlib loads only when a plot is looked at


def exercise_save(*, spec: dict[str, Any], deadline: datetime | None, published: bool = False) -> Exercise:
    """Store an exercise an instructor wrote in the browser (``spec``: what ``authoring.build_spec`` accepted),
    creating it or replacing the one with its slug. ``published``: the editor's checkbox (students see it)."""
    values = {
        "title": spec["title"],
        "statement": spec["statement"],
        "starter": spec["starter"],
        "spec": spec,
        "deadline": deadline,
        "published": published,
    }
    saved, _ = Exercise.objects.update_or_create(slug=spec["slug"], defaults=values)
    return saved


def exercise_set_published(*, exercise: Exercise, published: bool) -> None:
    """Publish or unpublish an exercise (the one-click button of its editor)."""
    exercise.published = published
    exercise.save(update_fields=["published", "updated_at"])


@transaction.atomic
def regrade_create(*, exercise: Exercise, by: User) -> RegradeBatch:
    """A new queued run for every submission of ``exercise``, graded against its current spec; the old runs and
    their verdicts stay. The tasks are sent once the whole batch is stored."""
    batch = RegradeBatch.objects.create(exercise=exercise, created_by=by)
    runs = GradingRun.objects.bulk_create(
        [GradingRun(submission=s, batch=batch) for s in Submission.objects.filter(exercise=exercise)]
    )
    ids = [run.pk for run in runs]
    transaction.on_commit(lambda: [_enqueue(run_id) for run_id in ids])
    log.info("regrade %s of %s: %d runs", batch.pk, exercise.slug, len(ids))
    return batch


@transaction.atomic
def validation_create(*, exercise: Exercise, by: User) -> ValidationRun:
    """Queue a validation of the exercise as it is now; a worker runs it (the web never runs exercise code)."""
    from config.celery import app

    validation = ValidationRun.objects.create(exercise=exercise, created_by=by)
    transaction.on_commit(lambda: app.send_task(VALIDATE_TASK, args=[validation.pk], queue=GRADING_QUEUE))
    return validation


def validation_run(*, validation_id: int) -> None:
    """In the worker: validate the stored spec and keep every variant's outcome (a redelivery does nothing)."""
    import graders

    validation = ValidationRun.objects.select_related("exercise").get(pk=validation_id)
    if validation.status == ValidationRun.Status.FINISHED:
        return
    result = graders.validate(graders.ExerciseSpec.from_dict(validation.exercise.spec))
    payload = {
        "ok": result.ok,
        "problems": list(result.problems),
        "variants": [
            {"name": v.name, "expected": v.expected, "verdict": v.verdict, "ok": v.ok, "detail": v.detail}
            for v in result.variants
        ],
    }
    ValidationRun.objects.filter(pk=validation_id, status=ValidationRun.Status.QUEUED).update(
        status=ValidationRun.Status.FINISHED, result=payload, finished_at=timezone.now()
    )


def validation_give_up(*, validation_id: int, reason: str) -> bool:
    """Store a validation that could not finish (its time limit) as failed, with the reason; False if it had
    finished already."""
    payload = {"ok": False, "problems": [reason], "variants": []}
    return bool(
        ValidationRun.objects.filter(pk=validation_id, status=ValidationRun.Status.QUEUED).update(
            status=ValidationRun.Status.FINISHED, result=payload, finished_at=timezone.now()
        )
    )


# From settings (MEMLAB_RUN_LEASE_S, MEMLAB_QUEUE_LEASE_S, MEMLAB_MAX_ATTEMPTS; defaults 5 min, 10 min, 3).
# A claimed run older than RUN_LEASE lost its worker: the lease exceeds a grading's hard time limit
# (config.celery_settings), so a worker that is still within it is never second-guessed.
RUN_LEASE = timedelta(seconds=settings.MEMLAB_RUN_LEASE_S)
QUEUE_LEASE = timedelta(seconds=settings.MEMLAB_QUEUE_LEASE_S)  # queued, unclaimed this long: message lost
MAX_ATTEMPTS = settings.MEMLAB_MAX_ATTEMPTS  # claims; then an internal_error, never blamed on the student


def runs_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic sweeper (Celery beat): requeue runs whose claim expired, give up after MAX_ATTEMPTS claims,
    and send again the messages of runs queued for too long. Every step is a conditional update, so a sweep
    racing a slow worker changes nothing the worker still owns; a duplicate message only finds the run claimed."""
    now = now or timezone.now()
    counts = {"requeued": 0, "gave up": 0, "sent again": 0}
    expired = GradingRun.objects.filter(status=GradingRun.Status.RUNNING, started_at__lt=now - RUN_LEASE)
    _requeue_or_give_up(expired, now=now, counts=counts)
    # queued, and its task last sent QUEUE_LEASE ago (the runs requeued just above were sent now): sent again,
    # and marked sent, so that the next sweep waits another QUEUE_LEASE before sending it once more
    _send_again(sent_before=now - QUEUE_LEASE, now=now, counts=counts)
    if any(counts.values()):
        log.warning("sweep: %s", counts)
    return counts


def runs_recover(*, claimed_before: datetime | None, now: datetime | None = None) -> dict[str, int]:
    """What the only worker of a database does at its start and after every reconnection to its broker
    (`make run`'s worker, config/worker_recovery.py), instead of waiting for the sweeper's leases.

    ``claimed_before``: the worker's start, given only once every process of the workers before it is known to
    be gone. A run still running that was claimed before then lost its worker: it is requeued (or given up
    after MAX_ATTEMPTS claims) at once, where the sweeper would wait RUN_LEASE (5 min). Every queued run is sent
    again: its message may sit, unacknowledged, with a consumer that died or lost its connection, until the
    broker's visibility timeout (10 min), or have been lost with the broker. A duplicate finds the run claimed."""
    now = now or timezone.now()
    counts = {"requeued": 0, "gave up": 0, "sent again": 0}
    if claimed_before is not None:
        orphans = GradingRun.objects.filter(status=GradingRun.Status.RUNNING, started_at__lt=claimed_before)
        _requeue_or_give_up(orphans, now=now, counts=counts)
    _send_again(sent_before=now, now=now, counts=counts)
    return counts


def _requeue_or_give_up(runs: Any, *, now: datetime, counts: dict[str, int]) -> None:
    """Runs whose claim is lost: back to the queue and sent, or an internal_error after MAX_ATTEMPTS claims."""
    for run in runs.select_related("submission__exercise"):
        if run.attempt >= MAX_ATTEMPTS:
            counts["gave up"] += run_give_up(
                run=run, reason=f"no worker finished it in {run.attempt} attempts"
            )
        elif run_release(run=run, now=now):
            transaction.on_commit(lambda run_id=run.pk: _enqueue(run_id))
            counts["requeued"] += 1


def _send_again(*, sent_before: datetime, now: datetime, counts: dict[str, int]) -> None:
    """Send again the task of every run still queued whose task was last sent before ``sent_before``."""
    stuck = list(
        GradingRun.objects.filter(status=GradingRun.Status.QUEUED, sent_at__lt=sent_before).values_list(
            "pk", flat=True
        )
    )
    GradingRun.objects.filter(pk__in=stuck, status=GradingRun.Status.QUEUED).update(sent_at=now)
    for run_id in stuck:
        transaction.on_commit(lambda run_id=run_id: _enqueue(run_id))
        counts["sent again"] += 1


# --- the course files: exercises loaded by ``apps.content``'s sync -------------------------------------------


class ExerciseSource(Protocol):
    """A parsed exercise folder (``apps.content.files.ExerciseFile``): the fields the loader reads."""

    @property
    def slug(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def statement(self) -> str: ...
    @property
    def starter(self) -> str: ...
    @property
    def spec(self) -> dict[str, Any]: ...
    @property
    def published(self) -> bool: ...


@transaction.atomic
def exercises_load(
    *, exercises: Sequence[ExerciseSource], progress: Callable[[str], None] = lambda _: None
) -> Counter[str]:
    """Upsert every exercise, saving only the fields that changed; counts created, updated and unchanged.

    Their concepts come after the concepts are loaded (``exercises_place``)."""
    counts: Counter[str] = Counter()
    for e in exercises:
        progress(f"exercise {e.slug}")
        values = {
            "title": e.title,
            "statement": e.statement,
            "starter": e.starter,
            "spec": e.spec,
            "published": e.published,
        }
        upsert_by_slug(Exercise, e.slug, values, counts)
    return counts


@transaction.atomic
def exercises_place(*, concept_id: int, slugs: Sequence[str]) -> None:
    """Attach the listed exercises (all loaded already) to their concept, in its order. Not counted: the sync
    counts each exercise once, by its own fields (``exercises_load``), and always has."""
    for position, slug in enumerate(slugs):
        upsert_by_slug(Exercise, slug, {"concept_id": concept_id, "position": position}, Counter())
