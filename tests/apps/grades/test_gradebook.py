"""The gradebook: best exercise scores and questions right per student, and a CSV Canvas and Moodle import."""

from __future__ import annotations

import csv
import io

from django.urls import reverse

from apps.grades.export import gradebook_csv
from apps.grades.selectors import gradebook
from apps.lab import services
from apps.lab.models import Exercise
from apps.quiz.models import Attempt, Question
from tests.support.factories import user_create


def _graded(user, exercise, score: float) -> None:  # type: ignore[no-untyped-def]
    run = services.submission_create(user=user, exercise=exercise, source="x = 1\n").runs.get()
    report = {"schema": 1, "verdict": "failed" if score < 1 else "passed", "score": score, "checks": []}
    services.run_finish(run=services.run_claim(run_id=run.pk), report=report)


def test_best_scores_and_questions_right_per_student(synced_course, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from config.celery import app

    monkeypatch.setattr(app, "send_task", lambda *a, **k: None)
    alice = user_create(username="alice", first_name="Alice", last_name="Ng")
    bob = user_create(username="=cmd|' /C calc'!A0")  # a spreadsheet formula as a username
    user_create(username="prof", role="instructor")
    exercise = Exercise.objects.get(slug="cumulative-average-memory")
    _graded(alice, exercise, 0.5)
    _graded(alice, exercise, 0.9)
    question = Question.objects.get(slug="step-100-needs-history")
    Attempt.objects.create(user=alice, question=question, response={"value": True}, correct=False)
    Attempt.objects.create(user=alice, question=question, response={"value": False}, correct=True)

    book = gradebook()
    assert {r.student.username for r in book.rows} == {bob.username, "alice"}  # students only
    row = next(r for r in book.rows if r.student == alice)
    column = next(i for i, c in enumerate(book.columns) if c.key == "exercise:cumulative-average-memory")
    assert row.cells[column] == 90.0  # the best run, scaled to 100 points
    questions = next(i for i, c in enumerate(book.columns) if c.key == "questions:general-recurrent-formula")
    assert row.cells[questions] == 0.5  # right on the second attempt: worth half (credit [1.0, 0.5, 0.25])
    assert next(r for r in book.rows if r.student == bob).cells[column] is None  # never tried

    table = list(csv.reader(io.StringIO(gradebook_csv(book))))
    assert table[0][:6] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Email", "Section"]
    assert table[1][0] == "Points Possible" and table[1][6 + column] == "100"
    bob_row = next(r for r in table[2:] if r[1] == str(bob.pk))
    assert all(not cell.startswith("=") for cell in bob_row)  # no formula reaches a spreadsheet
    alice_row = next(r for r in table[2:] if r[1] == str(alice.pk))
    assert alice_row[0] == "Ng, Alice" and alice_row[6 + column] == "90"


def test_the_instructor_downloads_it_and_a_student_cannot(client, synced_course) -> None:  # type: ignore[no-untyped-def]
    client.force_login(user_create(username="prof", role="instructor"))
    response = client.get(reverse("grades:export"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    client.force_login(user_create(username="student"))
    assert client.get(reverse("grades:gradebook")).status_code == 404


def test_a_question_scores_the_credit_of_its_first_correct_attempt(synced_course) -> None:  # type: ignore[no-untyped-def]
    question = Question.objects.get(slug="step-100-needs-history")  # its concept's only one answered
    question.max_attempts, question.credit = 3, [1.0, 0.6]
    question.save()
    plays = {  # the attempts of each student, in order: True right, False wrong, None "Show the answer"
        "first-try": [True],
        "third-try": [False, None, True],  # past the list: its last value
        "gave-up": [None],
        "ran-out": [False, False, False, True],  # right after the last attempt allowed: nothing
        "right-then-wrong": [True, False],
    }
    for name, answers in plays.items():
        student = user_create(username=name)
        for number, right in enumerate(answers, start=1):
            Attempt.objects.create(
                user=student, question=question, response={}, number=number,
                correct=bool(right), gave_up=right is None,
            )  # fmt: skip
    book = gradebook()
    column = next(i for i, c in enumerate(book.columns) if c.key == "questions:general-recurrent-formula")
    cells = {r.student.username: r.cells[column] for r in book.rows}
    assert cells == {
        "first-try": 1.0, "third-try": 0.6, "gave-up": 0.0, "ran-out": 0.0, "right-then-wrong": 1.0,
    }  # fmt: skip
