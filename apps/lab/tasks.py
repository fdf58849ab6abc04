from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import select
import signal
import threading
import time

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_init, worker_process_init
from django.db import InterfaceError, OperationalError, close_old_connections

from apps.lab import practice, services
from config.celery import WorkerMain
from config.logs import run_context

log = logging.getLogger(__name__)


WORKER_START_SLOT_WAIT_S = 5.0  # a slot still held by the zygote of a worker that just stopped is let go
PR_SET_PDEATHSIG = 1


@worker_init.connect
def _load_grader(sender: object = None, **_: object) -> None:
    """In the worker's main process, before the pool forks: check that every sandbox slot this worker is
    configured for is free (else stop, naming the slot and its holder), then import the grader's heavy half
    (torch, reference) once, so no pool process pays for it at its first submission. `import graders` alone
    stays light."""
    concurrency = getattr(sender, "concurrency", None)
    pool = str(getattr(sender, "pool_cls", "") or "")
    count = concurrency if isinstance(concurrency, int) and concurrency > 0 else 1
    if "solo" in pool.lower() or "thread" in pool.lower():
        count = 1  # a solo or threads pool grades in the main process: one sandbox host, one slot
    problem = configured_slots_problem(count)
    if problem:
        log.critical("%s", problem)
        # SystemExit, not an Exception: Celery's signal dispatch catches and only logs those, and the worker
        # would then start and fail at every grading instead
        raise SystemExit(f"memlab worker: {problem}")
    import graders

    graders.worker.load()


def configured_slots_problem(count: int, *, wait_s: float = WORKER_START_SLOT_WAIT_S) -> str:
    """Why this worker cannot start on its configured slots (``sandbox_slot(0 .. count - 1)``), or "". Each is
    probed (locked and released at once); one held longer than ``wait_s`` is a configuration error: another
    worker or grader on this host uses the range (README: ``MEMLAB_SANDBOX_SLOT_BASE``)."""
    import graders

    for index in range(count):
        slot = sandbox_slot(index)
        try:
            graders.worker.probe_slot(slot, wait_s=wait_s)
        except graders.worker.SlotError as exc:
            return (
                f"{exc}; this worker's pool process {index} is configured for it "
                f"(MEMLAB_SANDBOX_SLOT_BASE={os.environ.get('MEMLAB_SANDBOX_SLOT_BASE', '0')} + {index}): "
                "give each worker on this host its own range of slots"
            )
    return ""


@worker_process_init.connect
def _start_sandbox(**_: object) -> None:
    """In each pool process: die with the worker's main process, then start this process's zygote now (it boots
    in the background), not at the first submission, on a sandbox slot of its own: its runners get uid
    64000 + slot, different from every other pool process's. If the slot is still held (the zygote of the pool
    process this one replaces may be finishing a job), the first grading waits for it, a bounded time."""
    from celery.utils.log import current_process_index

    import graders

    _die_with_main_process()
    slot = sandbox_slot(current_process_index(base=0))
    if not graders.worker.start_sandbox(slot):
        log.warning("sandbox slot %s is still held by %s; the first grading waits for it", slot,
                    graders.worker.describe_slot(slot))  # fmt: skip


def _die_with_main_process() -> None:
    """A pool process outliving a SIGKILLed worker would hold its slot (and its zygote) for ever. Forked from
    the main process's main thread (the event loop's pool), the kernel sends it SIGKILL when that thread ends
    (PR_SET_PDEATHSIG); forked from another thread (billiard's threaded pool replaces processes from a thread
    that ends before the pool processes at a warm shutdown), a daemon thread waits on the main process's pidfd
    instead. Nothing happens in the main process itself (solo pool)."""
    parent = WorkerMain.pid if WorkerMain.pid is not None else os.getppid()
    if os.getpid() == parent:
        return
    if threading.get_ident() == WorkerMain.thread:
        if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    else:
        try:
            pidfd = os.pidfd_open(parent)
        except ProcessLookupError:
            os.kill(os.getpid(), signal.SIGKILL)
        threading.Thread(target=_kill_self_when_readable, args=(pidfd,), daemon=True).start()
    if os.getppid() != parent:  # it died before the above took effect
        os.kill(os.getpid(), signal.SIGKILL)


def _kill_self_when_readable(pidfd: int) -> None:
    with contextlib.suppress(OSError):
        select.select([pidfd], [], [])  # readable once the process is gone
    os.kill(os.getpid(), signal.SIGKILL)


def sandbox_slot(pool_index: int | None) -> int:
    """``MEMLAB_SANDBOX_SLOT_BASE`` (default 0; give each worker on one host its own range) plus the pool
    process's index (0 outside a prefork pool). A replacement process reuses the index of the one it replaces."""
    return int(os.environ.get("MEMLAB_SANDBOX_SLOT_BASE", "0")) + (pool_index or 0)


@shared_task(name=services.GRADE_TASK, bind=True, max_retries=3, acks_late=True)
def grade_run(self, run_id: int) -> None:  # type: ignore[no-untyped-def]
    """Claim, grade, finish. A redelivered or duplicate task finds the run claimed and does nothing."""
    with run_context(run_id):
        _grade(self, run_id)


def _grade(task, run_id: int) -> None:  # type: ignore[no-untyped-def]
    run = services.run_claim(run_id=run_id)
    if run is None:
        log.info("run %s is not queued; nothing to do", run_id)
        return
    with run_context(run_id, run.attempt):
        _grade_claimed(task, run)


def _grade_claimed(task, run) -> None:  # type: ignore[no-untyped-def]
    import graders  # the worker's grader; see services.run_grade

    log.info("grading submission %s (exercise %s)", run.submission_id, run.submission.exercise.slug)
    try:
        try:
            report = services.run_grade(run=run)
        except graders.GraderError as exc:
            _retry_or_give_up(task, run, exc, reason=str(exc))
            return
        _finish_with_retries(run, report)
    except SoftTimeLimitExceeded as exc:
        # Past the soft time limit (config.celery_settings), which lies above every sandbox limit: an
        # infrastructure fault, never the student's. A report not yet stored is dropped (an interrupted grading
        # stores no verdict; one already stored stays, as the release is conditional), the zygote, maybe
        # interrupted mid-reply, is replaced (the fresh one boots during the retry's countdown) and the run is
        # retried.
        log.warning("the grading ran past its soft time limit; the run is given back")
        graders.worker.restart_sandbox()
        _retry_or_give_up(task, run, exc, reason="the grading ran past its time limit")


def _retry_or_give_up(task, run, exc: Exception, *, reason: str) -> None:  # type: ignore[no-untyped-def]
    """An infrastructure fault: release the run and retry the task, or, after the last retry, store an
    internal_error (never blamed on the student)."""
    if task.request.retries >= task.max_retries:
        services.run_give_up(run=run, reason=reason)
        return
    services.run_release(run=run)
    raise task.retry(exc=exc, countdown=1) from exc


FINISH_TRIES = 4
FINISH_BACKOFF_S = 0.5


def _finish_with_retries(run, report: dict) -> None:  # type: ignore[no-untyped-def,type-arg]
    """Store the report; a database error (a restart, a dropped connection) is retried on a fresh connection,
    so a graded run is not lost for it. If the database stays away, the error propagates and the sweeper
    requeues the run once its claim expires."""
    for attempt in range(1, FINISH_TRIES + 1):
        try:
            services.run_finish(run=run, report=report)
            return
        except (OperationalError, InterfaceError):
            if attempt == FINISH_TRIES:
                raise
            log.warning("storing the report failed (try %s of %s); retrying", attempt, FINISH_TRIES)
            close_old_connections()
            time.sleep(FINISH_BACKOFF_S * attempt)


@shared_task(name=services.VALIDATE_TASK, acks_late=True)
def validate_exercise(validation_id: int) -> None:
    """Run an instructor's validation: the solution and every known-wrong variant through the sandbox. Past its
    soft time limit (config.celery_settings) it is stored as failed, saying so, instead of staying queued."""
    try:
        services.validation_run(validation_id=validation_id)
    except SoftTimeLimitExceeded:
        from django.conf import settings

        import graders

        limit = settings.CELERY_TASK_ANNOTATIONS[services.VALIDATE_TASK]["soft_time_limit"]
        log.warning("validation %s ran past its soft time limit", validation_id)
        graders.worker.restart_sandbox()  # possibly interrupted mid-reply: a fresh zygote boots for the next job
        reason = (
            f"The validation did not finish within {limit:.0f} s, so it was stopped. A variant (or the solution) "
            "probably runs until each job's wall limit: lower the exercise's limits or fix that variant."
        )
        services.validation_give_up(validation_id=validation_id, reason=reason)


@shared_task(name=practice.PRACTICE_TASK, acks_late=True)
def practice_run(practice_id: int) -> None:
    """A student's "Run on examples": claim, grade on the visible cases only, store. A fault of ours is stored
    as such (never as a verdict on the code); the student runs it again, at no cost."""
    import graders

    claimed = practice.practice_claim(practice_id=practice_id)
    if claimed is None:
        return
    try:
        report = practice.practice_grade(practice=claimed)
    except (graders.GraderError, SoftTimeLimitExceeded) as exc:
        log.warning("practice run %s could not finish: %s", practice_id, exc)
        if isinstance(exc, SoftTimeLimitExceeded):
            graders.worker.restart_sandbox()  # possibly interrupted mid-reply
        practice.practice_finish(practice=claimed, report=None, error=str(exc) or type(exc).__name__)
        return
    practice.practice_finish(practice=claimed, report=report)


@shared_task(name=services.SWEEP_TASK)
def sweep_runs() -> dict[str, int]:
    """Celery beat, every minute: requeue the runs of dead workers, give up on hopeless ones."""
    return services.runs_sweep()
