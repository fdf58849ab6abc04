"""The gradebook: one row per student, one column per exercise (best score) and per concept's questions (each
question scores the credit of its first correct attempt, ``apps.quiz.credit``).

Reads only: every number is derived from the stored runs and attempts (three queries for the whole course).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Max

from apps.accounts.models import User
from apps.course.models import Concept
from apps.lab.models import Exercise, GradingRun
from apps.quiz.credit import question_score
from apps.quiz.models import Attempt, Question


@dataclass(frozen=True)
class Column:
    key: str  # stable id for the CSV header, e.g. "exercise:window-memory"
    title: str
    points: float  # points possible


@dataclass(frozen=True)
class Row:
    student: User
    cells: list[float | None]  # points earned per column; None: never tried

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


def gradebook() -> Gradebook:
    students = list(
        User.objects.filter(role=User.Role.STUDENT).order_by("last_name", "first_name", "username")
    )
    exercises = list(Exercise.objects.order_by("concept__position", "position", "slug"))
    concepts = [c for c in Concept.objects.order_by("position", "slug") if c.questions.exists()]
    n_questions = {c.pk: c.questions.count() for c in concepts}
    columns = [Column(f"exercise:{e.slug}", e.title, EXERCISE_POINTS) for e in exercises]
    columns += [
        Column(f"questions:{c.slug}", f"Questions: {c.title}", float(n_questions[c.pk])) for c in concepts
    ]
    best: dict[tuple[int, int], float] = {  # late submissions do not count towards the grade
        (r["submission__user"], r["submission__exercise"]): r["best"]
        for r in GradingRun.objects.filter(status="finished", submission__late=False)
        .values("submission__user", "submission__exercise")
        .annotate(best=Max("score"))
    }
    history: dict[tuple[int, int], list[bool]] = defaultdict(list)  # (user, question) -> right, in order
    for user_id, question_id, correct in Attempt.objects.order_by("created_at", "pk").values_list(
        "user_id", "question_id", "correct"
    ):
        history[(user_id, question_id)].append(correct)
    rules = {q.pk: q for q in Question.objects.only("pk", "concept_id", "max_attempts", "credit")}
    right: dict[tuple[int, int], float] = defaultdict(float)  # (user, concept) -> question points
    tried: set[tuple[int, int]] = set()
    for (user_id, question_id), answers in history.items():
        q = rules[question_id]  # the credit of the first correct attempt; 0 after giving up or running out
        tried.add((user_id, q.concept_id))
        right[(user_id, q.concept_id)] += question_score(
            answers, max_attempts=q.max_attempts, credit=q.credit
        )
    rows = []
    for student in students:
        cells: list[float | None] = []
        for e in exercises:
            score = best.get((student.pk, e.pk))
            cells.append(None if score is None else round(score * EXERCISE_POINTS, 2))
        for c in concepts:
            cells.append(round(right[(student.pk, c.pk)], 2) if (student.pk, c.pk) in tried else None)
        rows.append(Row(student, cells))
    return Gradebook(columns, rows)
