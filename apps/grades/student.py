"""One student as the instructor sees them: every exercise (status, best, attempts, last run) with each
submission (time, verdict, score, a link to its code), and every question (attempts, give-ups, score); what
students can see only, as in the gradebook."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F

from apps.accounts.models import User
from apps.grades.selectors import (
    ATTEMPTED,
    EXERCISE_POINTS,
    NEW,
    PASSED,
    STATUS_LABELS,
    Result,
    submission_results,
)
from apps.lab.models import Exercise, GradingRun, Submission
from apps.lab.selectors import exercises_for_students, verdict_label
from apps.quiz.credit import question_score
from apps.quiz.models import Attempt, Question
from apps.quiz.selectors import questions_for_students

MAX_SUBMISSIONS = 200  # per exercise on the page; the counts cover them all


@dataclass(frozen=True)
class SubmissionLine:
    submission: Submission
    run: GradingRun | None  # its latest run (a regrade adds one)

    @property
    def verdict(self) -> str:
        if self.run is None:
            return ""
        return self.run.verdict if self.run.verdict else self.run.status

    @property
    def verdict_label(self) -> str:
        return verdict_label(self.verdict) if self.verdict else "Not graded"

    @property
    def points(self) -> float | None:
        score = self.run.score if self.run is not None else None
        return None if score is None else round(score * EXERCISE_POINTS, 2)


@dataclass(frozen=True)
class ExerciseLine:
    exercise: Exercise
    status: str
    best: float | None  # points, late submissions excluded (the gradebook's cell)
    attempts: int
    late: int
    submissions: list[SubmissionLine]  # newest first, at most MAX_SUBMISSIONS

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def last(self) -> datetime | None:
        return self.submissions[0].submission.created_at if self.submissions else None


@dataclass(frozen=True)
class QuestionLine:
    question: Question
    attempts: int
    gave_up: int
    right: bool
    score: float  # 0..1, the credit of the first correct attempt within the allowed ones
    last: datetime | None

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[PASSED if self.score > 0 else ATTEMPTED if self.attempts else NEW]


@dataclass(frozen=True)
class StudentRecord:
    student: User
    exercises: list[ExerciseLine]
    questions: list[QuestionLine]

    @property
    def submitted(self) -> bool:
        return any(e.attempts for e in self.exercises)

    @property
    def latest(self) -> Exercise | None:
        """The exercise submitted to last (its list is shown open)."""
        tried = [(e.last, e.exercise) for e in self.exercises if e.last is not None]
        return max(tried, key=lambda pair: pair[0])[1] if tried else None

    @property
    def questions_tried(self) -> list[QuestionLine]:
        return [q for q in self.questions if q.attempts]

    @property
    def questions_untried(self) -> list[QuestionLine]:
        return [q for q in self.questions if not q.attempts]

    @property
    def exercise_points(self) -> float:
        return sum(e.best or 0.0 for e in self.exercises)

    @property
    def question_points(self) -> float:
        return sum(q.score for q in self.questions)


def student_record(*, student: User) -> StudentRecord:
    """Five queries, whatever the student did."""
    submissions: dict[int, list[Submission]] = defaultdict(list)
    for s in Submission.objects.filter(user=student).order_by("-created_at", "-pk"):
        submissions[s.exercise_id].append(s)
    latest_run: dict[int, GradingRun] = {}
    for run in GradingRun.objects.filter(submission__user=student).order_by("created_at", "pk"):
        latest_run[run.submission_id] = run  # the last one wins, pending or not: the page shows where it is
    results = {r.submission_id: r for r in submission_results(user=student)}
    exercises = (
        exercises_for_students()
        .select_related("concept")
        .order_by(F("concept__position").asc(nulls_last=True), "position", "slug")
    )
    lines = [_exercise_line(e, submissions[e.pk], latest_run, results) for e in exercises]
    return StudentRecord(student, lines, _question_lines(student))


def _exercise_line(
    exercise: Exercise,
    submissions: list[Submission],
    latest_run: dict[int, GradingRun],
    results: dict[int, Result],
) -> ExerciseLine:
    """Status and best as the gradebook counts them (``submission_results``: a grader error is not a result)."""
    mine = [results[s.pk] for s in submissions if s.pk in results]
    on_time = [r.score for r in mine if not r.late and r.score is not None]
    passed = any(r.verdict == "passed" for r in mine)
    return ExerciseLine(
        exercise=exercise,
        status=PASSED if passed else ATTEMPTED if submissions else NEW,
        best=round(max(on_time) * EXERCISE_POINTS, 2) if on_time else None,
        attempts=len(submissions),
        late=sum(s.late for s in submissions),
        submissions=[SubmissionLine(s, latest_run.get(s.pk)) for s in submissions[:MAX_SUBMISSIONS]],
    )


def _question_lines(student: User) -> list[QuestionLine]:
    attempts: dict[int, list[Attempt]] = defaultdict(list)
    for a in Attempt.objects.filter(user=student).order_by("created_at", "pk"):
        attempts[a.question_id].append(a)
    questions = (
        questions_for_students().select_related("concept").order_by("concept__position", "position", "slug")
    )
    return [
        QuestionLine(
            question=q,
            attempts=len(mine),
            gave_up=sum(a.gave_up for a in mine),
            right=any(a.correct for a in mine),
            score=question_score([a.correct for a in mine], max_attempts=q.max_attempts, credit=q.credit),
            last=mine[-1].created_at if mine else None,
        )
        for q in questions
        for mine in [attempts[q.pk]]
    ]
