"""A student's progress per concept (its questions answered right, its exercises passed) and per exercise.

Only published questions and exercises count: a draft is no part of the course yet, for anyone."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, F, Max, Q

from apps.accounts.models import User
from apps.course.models import Concept
from apps.lab.models import Exercise, GradingRun, Submission
from apps.lab.selectors import exercises_visible
from apps.quiz.models import Attempt


@dataclass(frozen=True)
class Progress:
    done: int  # questions whose last attempt was right + exercises with a passed run
    total: int
    started: bool
    exercises_done: int = 0  # of ``done``: the exercises passed
    exercises_total: int = 0

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    @property
    def questions_done(self) -> int:
        return self.done - self.exercises_done

    @property
    def questions_total(self) -> int:
        return self.total - self.exercises_total

    @property
    def status(self) -> str:
        if self.total and self.done == self.total:
            return "done"
        return "started" if self.started else "new"


EXERCISE_STATUS_LABELS = {"new": "Not started", "attempted": "Attempted", "passed": "Passed"}


@dataclass(frozen=True)
class ExerciseProgress:
    exercise: Exercise
    status: str  # new | attempted | passed
    best: float | None  # the best score of a graded run in [0, 1] (a grader error is not a score)

    @property
    def status_label(self) -> str:
        return EXERCISE_STATUS_LABELS[self.status]


@dataclass(frozen=True)
class _ExerciseRuns:
    passed: set[int]
    tried: set[int]
    best: dict[int, float | None]


def _exercise_runs(user: User) -> _ExerciseRuns:
    """Two queries: the student's graded runs per exercise (passed? best score) and the exercises submitted to."""
    graded = (
        GradingRun.objects.filter(submission__user=user, status=GradingRun.Status.FINISHED)
        .exclude(verdict="internal_error")  # a fault of ours, never a result of the student's
        .values("submission__exercise_id")
        .annotate(best=Max("score"), passes=Count("pk", filter=Q(verdict="passed")))
    )
    rows = list(graded)
    tried = set(Submission.objects.filter(user=user).values_list("exercise_id", flat=True).distinct())
    return _ExerciseRuns(
        passed={r["submission__exercise_id"] for r in rows if r["passes"]},
        tried=tried,
        best={r["submission__exercise_id"]: r["best"] for r in rows},
    )


def progress_by_concept(*, user: User, concepts: list[Concept]) -> dict[int, Progress]:
    """Three queries for the whole course, whatever its size (``concepts`` with their questions and exercises
    prefetched: ``selectors.concept_outline``). Drafts are not counted."""
    last: dict[int, bool] = {}
    for question_id, correct in (
        Attempt.objects.filter(user=user).order_by("created_at").values_list("question_id", "correct")
    ):
        last[question_id] = correct
    runs = _exercise_runs(user)
    result = {}
    for concept in concepts:
        questions = [q.pk for q in concept.questions.all() if q.published]
        exercises = [e.pk for e in concept.exercises.all() if e.published]
        passed = sum(e in runs.passed for e in exercises)
        done = sum(last.get(q, False) for q in questions) + passed
        started = any(q in last for q in questions) or any(e in runs.tried for e in exercises)
        result[concept.pk] = Progress(
            done,
            len(questions) + len(exercises),
            started,
            exercises_done=passed,
            exercises_total=len(exercises),
        )
    return result


def exercise_progress(*, user: User, concept: Concept | None = None) -> list[ExerciseProgress]:
    """Every exercise ``user`` may see (or a concept's) in course order — its concept's position, then its place
    in the concept — with this student's status and best score. Exercises outside any concept come last."""
    exercises = exercises_visible(user=user).select_related("concept").only(
        "pk", "slug", "title", "deadline", "position", "published",
        "concept__slug", "concept__title", "concept__position", "concept__published",
    )  # fmt: skip
    if concept is not None:
        exercises = exercises.filter(concept=concept)
    ordered = exercises.order_by(
        F("concept__position").asc(nulls_last=True), "concept__title", "position", "title"
    )
    runs = _exercise_runs(user)
    return [
        ExerciseProgress(
            exercise=e,
            status="passed" if e.pk in runs.passed else "attempted" if e.pk in runs.tried else "new",
            best=runs.best.get(e.pk),
        )
        for e in ordered
    ]
