"""The gradebook: one row per student, one column per exercise (best score) and per concept's questions (each
question scores the credit of its first correct attempt, ``apps.quiz.credit``), each cell with its status.

Reads only: every number is derived from the stored runs and attempts (five queries for the whole course).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from apps.accounts.models import User
from apps.course.models import Concept
from apps.lab.models import GradingRun, Submission
from apps.lab.selectors import check_failed, exercises_for_students
from apps.quiz.credit import question_score
from apps.quiz.models import Attempt
from apps.quiz.selectors import questions_for_students


@dataclass(frozen=True)
class Column:
    key: str  # stable id for the CSV header, e.g. "exercise:window-memory"
    title: str
    points: float  # points possible


NEW, ATTEMPTED, PASSED = "new", "attempted", "passed"
STATUS_LABELS = {NEW: "Not started", ATTEMPTED: "Attempted", PASSED: "Passed"}


@dataclass(frozen=True)
class Row:
    student: User
    cells: list[float | None]  # points earned per column; None: never tried
    statuses: list[str]  # per column: new | attempted | passed (an exercise with a passed run; every question
    # of the concept scored)

    @property
    def total(self) -> float:
        return sum(c for c in self.cells if c is not None)


@dataclass(frozen=True)
class Gradebook:
    columns: list[Column]
    rows: list[Row]

    @property
    def points(self) -> float:
        return sum(c.points for c in self.columns)


EXERCISE_POINTS = 100.0  # an exercise's best score (0..1) is scaled to these


@dataclass(frozen=True)
class Result:
    """A submission's result: its latest graded run's (a regrade replaces the earlier score; a grader error is
    a fault of ours, never a result, so the run before it stands)."""

    submission_id: int
    user_id: int
    exercise_id: int
    late: bool
    verdict: str
    score: float | None
    check_failures: list[str]  # the checks that failed, in the report's order


def submission_results(**filters: object) -> list[Result]:
    """One query: every submission's result (``filters`` narrow the submissions, e.g. ``exercise=...``)."""
    latest: dict[int, Result] = {}
    runs = (
        GradingRun.objects.filter(status=GradingRun.Status.FINISHED, **{f"submission__{k}": v for k, v in filters.items()})
        .exclude(verdict="internal_error")
        .order_by("created_at", "pk")
        .values_list("submission_id", "submission__user_id", "submission__exercise_id", "submission__late",
                     "verdict", "score", "report")
    )  # fmt: skip
    for submission_id, user_id, exercise_id, late, verdict, score, report in runs:
        failures = [str(c.get("id")) for c in (report or {}).get("checks", []) if check_failed(c)]
        latest[submission_id] = Result(submission_id, user_id, exercise_id, late, verdict, score, failures)
    return list(latest.values())


def gradebook() -> Gradebook:
    students = list(
        User.objects.filter(role=User.Role.STUDENT).order_by("last_name", "first_name", "username")
    )
    exercises = list(exercises_for_students().order_by("concept__position", "position", "slug"))
    questions = list(questions_for_students().only("pk", "concept_id", "max_attempts", "credit"))
    n_questions = Counter(q.concept_id for q in questions)
    concepts = [c for c in Concept.objects.published().order_by("position", "slug") if n_questions[c.pk]]
    columns = [Column(f"exercise:{e.slug}", e.title, EXERCISE_POINTS) for e in exercises]
    columns += [
        Column(f"questions:{c.slug}", f"Questions: {c.title}", float(n_questions[c.pk])) for c in concepts
    ]
    best: dict[tuple[int, int], float] = {}  # late submissions do not count towards the grade
    passed: set[tuple[int, int]] = set()
    for result in submission_results():
        key = (result.user_id, result.exercise_id)
        if result.score is not None and not result.late:
            best[key] = max(best.get(key, 0.0), result.score)
        if result.verdict == "passed":
            passed.add(key)
    tried_exercise = set(Submission.objects.values_list("user_id", "exercise_id").distinct())
    history: dict[tuple[int, int], list[bool]] = defaultdict(list)  # (user, question) -> right, in order
    for user_id, question_id, correct in Attempt.objects.order_by("created_at", "pk").values_list(
        "user_id", "question_id", "correct"
    ):
        history[(user_id, question_id)].append(correct)
    rules = {q.pk: q for q in questions}  # drafts left out: what students cannot see is not graded
    right: dict[tuple[int, int], float] = defaultdict(float)  # (user, concept) -> question points
    scored: dict[tuple[int, int], int] = defaultdict(int)  # (user, concept) -> questions that scored
    tried: set[tuple[int, int]] = set()
    for (user_id, question_id), answers in history.items():
        if (q := rules.get(question_id)) is None:
            continue
        # the credit of the first correct attempt; 0 after giving up or running out
        tried.add((user_id, q.concept_id))
        score = question_score(answers, max_attempts=q.max_attempts, credit=q.credit)
        right[(user_id, q.concept_id)] += score
        scored[(user_id, q.concept_id)] += score > 0
    rows = []
    for student in students:
        cells: list[float | None] = []
        statuses: list[str] = []
        for e in exercises:
            key = (student.pk, e.pk)
            score = best.get(key)
            cells.append(None if score is None else round(score * EXERCISE_POINTS, 2))
            statuses.append(PASSED if key in passed else ATTEMPTED if key in tried_exercise else NEW)
        for c in concepts:
            key = (student.pk, c.pk)
            cells.append(round(right[key], 2) if key in tried else None)
            done = scored[key] == n_questions[c.pk]
            statuses.append(PASSED if done else ATTEMPTED if key in tried else NEW)
        rows.append(Row(student, cells, statuses))
    return Gradebook(columns, rows)
