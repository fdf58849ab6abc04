from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet

from apps.accounts.models import User
from apps.lab.models import Draft, Exercise, GradingRun, RegradeBatch, Submission

SUBMISSIONS_PER_WINDOW = 6
WINDOW = timedelta(minutes=1)


def exercise_list() -> QuerySet[Exercise]:
    """Every exercise, for lists: its title and slug, not its statement, starter or grader spec."""
    return Exercise.objects.only("pk", "slug", "title")


def exercises_visible(*, user: User) -> QuerySet[Exercise]:
    """The exercises ``user`` may see: every one for an instructor; for a student, a published exercise in a
    published concept (one outside any concept: its own state decides). A draft concept hides its exercises."""
    return Exercise.objects.all() if user.is_instructor else exercises_for_students()


def exercises_for_students() -> QuerySet[Exercise]:
    """What every student sees (and what the gradebook and the analytics count)."""
    return Exercise.objects.published().filter(Q(concept__isnull=True) | Q(concept__published=True))


def exercise_get_visible(*, slug: str, user: User) -> Exercise:
    """The exercise for its page and every student endpoint; DoesNotExist (a 404) for one ``user`` may not see,
    so a draft is not even announced."""
    return exercises_visible(user=user).select_related("concept").get(slug=slug)


def submission_list(*, user: User, exercise: Exercise, limit: int = 10) -> list[Submission]:
    return list(
        Submission.objects.filter(user=user, exercise=exercise)
        .prefetch_related("runs")
        .order_by("-created_at")[:limit]
    )


def latest_source(*, user: User, exercise: Exercise) -> str:
    """What the editor starts with: the draft if it is newer than the last submission, else that submission,
    else the starter code."""
    latest = Submission.objects.filter(user=user, exercise=exercise).order_by("-created_at").first()
    draft = Draft.objects.filter(user=user, exercise=exercise).first()
    if draft is not None and (latest is None or draft.updated_at > latest.created_at):
        return draft.source
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
    mine = Submission.objects.filter(user=user, exercise=exercise)
    return window_wait(mine, limit=SUBMISSIONS_PER_WINDOW, window=WINDOW, now=now)


def window_wait(rows: QuerySet[Any], *, limit: int, window: timedelta, now: datetime) -> int:
    """Seconds until ``rows`` (with ``created_at``) hold fewer than ``limit`` in the last ``window`` (0: now)."""
    recent = list(
        rows.filter(created_at__gt=now - window)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:limit]
    )
    if len(recent) < limit:
        return 0
    return max(1, math.ceil((recent[-1] + window - now).total_seconds()))


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


# --- a grading report as students read it --------------------------------------------------------------------

VERDICT_LABELS = {
    "passed": "Passed",
    "failed": "Failed",
    "runtime_error": "Runtime error",
    "timeout": "Time limit exceeded",
    "memory_limit": "Memory limit exceeded",
    "invalid_output": "Invalid output",
    "rejected": "Rejected",
    "internal_error": "Grader error (not counted)",
    # a run without a verdict yet shows its status
    "queued": "Queued",
    "running": "Running",
    "finished": "Graded",
}


def verdict_label(verdict: str) -> str:
    """The words of a verdict (or of a pending run's status) on every badge: "Runtime error", not RUNTIME_ERROR."""
    return VERDICT_LABELS.get(verdict, verdict.replace("_", " ").capitalize())


_SKIPPED = ("not run because", "not judged because")  # graders.report.not_run / not_judged
_NO_POINTS = re.compile(r"\s*\((No points yet:[^)]*)\)\s*$")


@dataclass(frozen=True)
class CheckLine:
    """One check of a report, with the mark it earns: a green tick only for a check that passed with points."""

    id: str
    mark: str  # passed | failed | skipped (not run, not judged) | unscored (passed, but no points yet)
    state: str  # the mark in words, for screen readers and beside the neutral marks
    points: float
    max_points: float
    message: str
    note: str  # why a passed check earned nothing
    counterexample: str  # the counterexample's text, shown once: in its box, not also in the message
    plot: dict[str, Any] | None


MARKS = {"passed": "✓", "failed": "✗", "skipped": "–", "unscored": "○"}


def report_checks(report: dict[str, Any] | None) -> list[CheckLine]:
    """The checks of a stored report (graders' JSON, schema 1) as the run page shows them."""
    return [_check_line(c) for c in (report or {}).get("checks", [])]


def check_skipped(check: dict[str, Any]) -> bool:
    """A check that was not run or not judged (so it failed nothing). Reports since the practice runs say
    ``ran``; older ones only say so in the message."""
    return check.get("ran") is False or str(check.get("message") or "").lower().startswith(_SKIPPED)


def check_failed(check: dict[str, Any]) -> bool:
    return not check.get("passed") and not check_skipped(check)


def _check_line(check: dict[str, Any]) -> CheckLine:
    message = str(check.get("message") or "")
    counterexample = check.get("counterexample")
    if isinstance(counterexample, dict):
        text = str(counterexample.get("text") or "") or ", ".join(
            f"{k} = {v}" for k, v in counterexample.items()
        )
    else:
        text = str(counterexample or "")
    if text and text in message:  # the grader's message often quotes the counterexample: keep it in the box
        message = re.sub(r"[ \t]{2,}", " ", message.replace(text, "")).strip()
    points, max_points = float(check.get("points") or 0), float(check.get("max_points") or 0)
    note = ""
    if not check.get("passed"):
        skipped = check_skipped(check)
        mark = "skipped" if skipped else "failed"
        state = ("not judged" if "judged" in message.lower()[:20] else "not run") if skipped else "failed"
    elif max_points > 0 and points <= 0:
        found = _NO_POINTS.search(message)
        if found:
            message, note = message[: found.start()], found.group(1).rstrip(".") + "."
        mark, state = "unscored", "passed, no points"
        note = note or "No points for this check in this attempt."
    else:
        mark, state = "passed", "passed"
    return CheckLine(
        id=str(check.get("id", "")),
        mark=mark,
        state=state,
        points=points,
        max_points=max_points,
        message=message,
        note=note,
        counterexample=text,
        plot=check.get("plot"),
    )
