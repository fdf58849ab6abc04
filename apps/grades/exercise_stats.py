"""Exercise analytics for instructors: who passes, after how many submissions, which check stops them, and how
the best scores spread.

Students only (an instructor's own tries are not the class's). Each submission counts with its result
(``submission_results``: its latest graded run, a grader error not being one):
- pass rate = students with a passed submission / students who submitted;
- attempts to pass = for each student who passed, the number of their first passing submission (1-based);
- a check's failures = the graded submissions in which it failed (not run or not judged is not failing), and
  the students who failed it at least once; the check that fails most leads;
- score distribution = each student's best score, in ``BINS`` bins of equal width (100 in the last).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db.models import QuerySet

from apps.accounts.models import User
from apps.grades.selectors import EXERCISE_POINTS, Result, submission_results
from apps.lab.models import Exercise, Submission

BINS = 10


@dataclass(frozen=True)
class CheckFailures:
    check: str
    submissions: int  # graded submissions in which it failed
    students: int  # students who failed it at least once
    share: float  # of graded submissions


@dataclass
class ExerciseStats:
    exercise: Exercise
    students: int = 0  # who submitted
    passed: int = 0
    graded: int = 0  # submissions with a result
    submissions: int = 0
    attempts_to_pass: list[int] = field(default_factory=list)
    checks: list[CheckFailures] = field(default_factory=list)  # most failures first
    best_scores: list[float] = field(default_factory=list)  # points, one per student with a result

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.students if self.students else None

    @property
    def median_attempts(self) -> float | None:
        return statistics.median(self.attempts_to_pass) if self.attempts_to_pass else None

    @property
    def mean_attempts(self) -> float | None:
        return statistics.fmean(self.attempts_to_pass) if self.attempts_to_pass else None

    @property
    def most_failed(self) -> CheckFailures | None:
        return self.checks[0] if self.checks else None

    @property
    def histogram(self) -> list[tuple[str, int]]:
        """(bin label, students) for each of ``BINS`` bins of the best scores."""
        width = EXERCISE_POINTS / BINS
        counts = Counter(min(int(score // width), BINS - 1) for score in self.best_scores)
        return [(f"{i * width:g}–{(i + 1) * width:g}", counts[i]) for i in range(BINS)]


def exercise_stats(*, exercise: Exercise) -> ExerciseStats:
    """Two queries."""
    return _stats(exercise, list(_student_submissions(exercise=exercise)), _results(exercise=exercise))


def all_exercise_stats() -> list[ExerciseStats]:
    """Every exercise in course order, in two queries for the whole course."""
    submissions: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for row in _student_submissions():
        submissions[row[2]].append(row)
    results: dict[int, dict[int, Result]] = defaultdict(dict)
    for submission_id, result in _results().items():
        results[result.exercise_id][submission_id] = result
    exercises = Exercise.objects.select_related("concept").order_by("concept__position", "position", "slug")
    return [_stats(e, submissions[e.pk], results[e.pk]) for e in exercises]


def _student_submissions(**filters: object) -> QuerySet[Submission, tuple[int, int, int]]:
    """(submission, student, exercise) of students' submissions, oldest first."""
    return (
        Submission.objects.filter(user__role=User.Role.STUDENT, **filters)
        .order_by("created_at", "pk")
        .values_list("pk", "user_id", "exercise_id")
    )


def _results(**filters: object) -> dict[int, Result]:
    return {r.submission_id: r for r in submission_results(user__role=User.Role.STUDENT, **filters)}


def _stats(
    exercise: Exercise, submissions: list[tuple[int, int, int]], results: dict[int, Result]
) -> ExerciseStats:
    stats = ExerciseStats(exercise, submissions=len(submissions))
    by_student: dict[int, list[int]] = defaultdict(list)  # student -> submissions, oldest first
    for submission_id, user_id, _ in submissions:
        by_student[user_id].append(submission_id)
    stats.students = len(by_student)
    failures: Counter[str] = Counter()
    failed_by: dict[str, set[int]] = defaultdict(set)
    for user_id, mine in by_student.items():
        graded = [results[s] for s in mine if s in results]
        first_pass = next(
            (n for n, s in enumerate(mine, 1) if s in results and results[s].verdict == "passed"), None
        )
        if first_pass is not None:
            stats.passed += 1
            stats.attempts_to_pass.append(first_pass)
        scores = [r.score for r in graded if r.score is not None]
        if scores:
            stats.best_scores.append(round(max(scores) * EXERCISE_POINTS, 2))
        for result in graded:
            failures.update(result.check_failures)
            for check in result.check_failures:
                failed_by[check].add(user_id)
        stats.graded += len(graded)
    stats.checks = [
        CheckFailures(check, n, len(failed_by[check]), n / stats.graded)
        for check, n in sorted(failures.items(), key=lambda item: (-item[1], item[0]))
    ]
    return stats
