"""A page per student: every exercise with its attempts and each submission's verdict and code, every question."""

from __future__ import annotations

from django.urls import reverse

from apps.grades.student import student_record
from apps.lab import services
from apps.lab.models import Exercise
from apps.quiz.models import Attempt, Question
from tests.support.factories import user_create
from tests.support.graded import Graded, finish


def test_attempts_verdicts_and_questions_of_one_student(client, synced_course, graded: Graded) -> None:  # type: ignore[no-untyped-def]
    exercise = Exercise.objects.get(slug="cumulative-average-memory")
    ada = user_create(username="ada", first_name="Ada", last_name="Lovelace")
    first = graded(ada, exercise, 0.5, failing=("state_size",))
    graded(ada, exercise, 0.0, verdict="runtime_error")
    latest = graded(ada, exercise, 1.0)
    question = Question.objects.get(slug="step-100-needs-history")
    Attempt.objects.create(user=ada, question=question, response={}, correct=False, gave_up=True, number=1)
    Attempt.objects.create(user=ada, question=question, response={}, correct=True, number=2)

    record = student_record(student=ada)
    line = next(e for e in record.exercises if e.exercise == exercise)
    assert (line.status, line.best, line.attempts, line.late) == ("passed", 100.0, 3, 0)
    assert [s.submission for s in line.submissions][0] == latest  # newest first
    assert [s.verdict_label for s in line.submissions] == ["Passed", "Runtime error", "Failed"]
    untouched = next(e for e in record.exercises if e.exercise != exercise)
    assert (untouched.status, untouched.best, untouched.attempts) == ("new", None, 0)
    answered = next(q for q in record.questions if q.question == question)
    assert (answered.attempts, answered.gave_up, answered.right) == (2, 1, True)
    assert answered.score == question.credit[1]  # right on the second attempt

    client.force_login(user_create(username="prof", role="instructor"))
    html = client.get(reverse("grades:student", args=[ada.pk])).content.decode()
    assert "<h1>Ada Lovelace</h1>" in html
    assert reverse("lab:run", args=[first.runs.get().pk]) in html  # each submission links to its code
    assert 'data-verdict="runtime_error"' in html


def test_a_regrade_replaces_the_score_and_a_grader_error_is_not_a_result(
    synced_course, graded: Graded
) -> None:  # type: ignore[no-untyped-def]
    exercise = Exercise.objects.get(slug="cumulative-average-memory")
    ada = user_create(username="ada")
    graded(ada, exercise, 1.0)
    batch = services.regrade_create(exercise=exercise, by=user_create(username="prof", role="instructor"))
    finish(batch.runs.get(), 0.5)  # the tests got stricter
    line = next(e for e in student_record(student=ada).exercises if e.exercise == exercise)
    assert (line.status, line.best) == ("attempted", 50.0)
    batch = services.regrade_create(exercise=exercise, by=user_create(username="prof2", role="instructor"))
    finish(batch.runs.get(), None, verdict="internal_error")  # a fault of ours: the regrade's score stands
    line = next(e for e in student_record(student=ada).exercises if e.exercise == exercise)
    assert (line.status, line.best) == ("attempted", 50.0)
    assert line.submissions[0].verdict == "internal_error"  # the page still shows where the run is


def test_only_instructors_and_only_for_students(client, synced_course) -> None:  # type: ignore[no-untyped-def]
    ada = user_create(username="ada")
    prof = user_create(username="prof", role="instructor")
    client.force_login(ada)
    assert client.get(reverse("grades:student", args=[ada.pk])).status_code == 404
    client.force_login(prof)
    assert client.get(reverse("grades:student", args=[prof.pk])).status_code == 404  # not a student
    assert client.get(reverse("grades:student", args=[ada.pk])).status_code == 200
