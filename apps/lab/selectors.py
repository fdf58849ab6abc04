from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet

from apps.accounts.models import User
from apps.lab.models import Exercise, GradingRun, RegradeBatch, Submission

SUBMISSIONS_PER_WINDOW = 6
WINDOW = timedelta(minutes=1)


def exercise_list() -> QuerySet[Exercise]:
    """Every exercise, for lists: its title and slug, not its statement, starter or grader spec."""
    return Exercise.objects.only("pk", "slug", "title")


def submission_list(*, user: User, exercise: Exercise, limit: int = 10) -> list[Submission]:
    return list(
        Submission.objects.filter(user=user, exercise=exercise)
        .prefetch_related("runs")
        .order_by("-created_at")[:limit]
    )


def latest_source(*, user: User, exercise: Exercise) -> str:
    latest = Submission.objects.filter(user=user, exercise=exercise).order_by("-created_at").first()
    return latest.source if latest else exercise.starter


def run_get_visible(*, run_id: int, user: User) -> GradingRun:
    """A run its owner or an instructor may see; anyone else gets DoesNotExist (a 404, not a 403 that leaks)."""
    runs = GradingRun.objects.select_related("submission__exercise", "submission__user")
    if not user.is_instructor:
        runs = runs.filter(submission__user=user)
    return runs.get(pk=run_id)


def rate_limit_wait(*, user: User, exercise: Exercise, now: datetime) -> int:
    """Seconds until ``user`` may submit to ``exercise`` again (0: now). At most SUBMISSIONS_PER_WINDOW in any
    WINDOW: enough to iterate quickly, too few to use the grader as a brute-force oracle."""
    recent = list(
        Submission.objects.filter(user=user, exercise=exercise, created_at__gt=now - WINDOW)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:SUBMISSIONS_PER_WINDOW]
    )
    if len(recent) < SUBMISSIONS_PER_WINDOW:
        return 0
    return max(1, math.ceil((recent[-1] + WINDOW - now).total_seconds()))


FAILS_PER_HINT = 2  # a hint unlocks after every second graded attempt that did not pass


def unlocked_hints(*, user: User, exercise: Exercise) -> tuple[list[str], int]:
    """The hints this student has earned by failed attempts, and how many more failures unlock the next."""
    hints = list((exercise.spec or {}).get("hints", []))
    failed = (
        GradingRun.objects.filter(submission__user=user, submission__exercise=exercise, status="finished")
        .exclude(verdict__in=("passed", "internal_error"))
        .count()
    )
    shown = min(len(hints), failed // FAILS_PER_HINT)
    to_next = 0 if shown == len(hints) else FAILS_PER_HINT - failed % FAILS_PER_HINT
    return hints[:shown], to_next


def submission_get_visible(*, submission_id: int, user: User) -> Submission:
    """A submission its owner or an instructor may see; anyone else gets DoesNotExist (a 404)."""
    submissions = Submission.objects.select_related("exercise", "user")
    if not user.is_instructor:
        submissions = submissions.filter(user=user)
    return submissions.get(pk=submission_id)


def previous_submission(*, submission: Submission) -> Submission | None:
    """The same student's submission to the same exercise just before this one."""
    return (
        Submission.objects.filter(
            user=submission.user, exercise=submission.exercise, created_at__lt=submission.created_at
        )
        .order_by("-created_at")
        .first()
    )


@dataclass(frozen=True)
class RegradeProgress:
    batch: RegradeBatch
    total: int
    finished: int
    changed: int  # finished runs whose verdict differs from the submission's run just before the batch

    @property
    def done(self) -> bool:
        return self.finished == self.total


def regrade_progress(*, batch: RegradeBatch) -> RegradeProgress:
    runs = list(batch.runs.select_related("submission"))
    finished = [r for r in runs if r.status == GradingRun.Status.FINISHED]
    earlier = {
        r.submission_id: r.verdict
        for r in GradingRun.objects.filter(
            submission__in=[r.submission_id for r in finished], created_at__lt=batch.created_at
        ).order_by("created_at")
    }
    changed = sum(1 for r in finished if earlier.get(r.submission_id) not in (None, r.verdict))
    return RegradeProgress(batch, len(runs), len(finished), changed)


def exercise_submissions(*, exercise: Exercise, limit: int = 500) -> list[Submission]:
    """Every submission of an exercise, newest first, with its runs (for instructors)."""
    return list(
        Submission.objects.filter(exercise=exercise)
        .select_related("user")
        .prefetch_related("runs")
        .order_by("-created_at")[:limit]
    )
