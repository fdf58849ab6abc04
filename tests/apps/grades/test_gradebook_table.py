"""The gradebook page for a course of hundreds: filter by student, column and status, sort by any column, pages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.grades import table as table_module
from apps.grades.selectors import gradebook
from apps.grades.table import Query, overall, table
from apps.lab.models import Exercise
from apps.quiz.models import Attempt, Question
from tests.support.factories import user_create
from tests.support.graded import Graded

AVERAGE = "exercise:cumulative-average-memory"


@pytest.fixture
def course(synced_course, graded: Graded):  # type: ignore[no-untyped-def]
    exercise = Exercise.objects.get(slug="cumulative-average-memory")
    ada = user_create(username="ada", first_name="Ada", last_name="Lovelace", email="ada@uni.example")
    bo = user_create(username="bo", first_name="Bo", last_name="Ito")
    cy = user_create(username="cy")  # no name: sorts by username
    user_create(username="prof", role="instructor")
    graded(ada, exercise, 1.0)
    graded(bo, exercise, 0.4)
    graded(bo, exercise, 0.6)
    question = Question.objects.get(slug="step-100-needs-history")
    Attempt.objects.create(user=cy, question=question, response={}, correct=True)
    return {"ada": ada, "bo": bo, "cy": cy, "exercise": exercise}


def _names(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.row.student.username for r in result.rows]


def test_cells_carry_status_and_the_best_on_time_score(course) -> None:  # type: ignore[no-untyped-def]
    book = gradebook()
    column = next(i for i, c in enumerate(book.columns) if c.key == AVERAGE)
    rows = {r.student.username: r for r in book.rows}
    assert [rows[n].statuses[column] for n in ("ada", "bo", "cy")] == ["passed", "attempted", "new"]
    assert rows["bo"].cells[column] == 60.0


def test_filters_by_student_text_column_and_status(course) -> None:  # type: ignore[no-untyped-def]
    book = gradebook()
    assert _names(table(book, Query.parse({"q": "LOVE"}, book))) == ["ada"]  # last name, any case
    assert _names(table(book, Query.parse({"q": "uni.example"}, book))) == ["ada"]  # email
    one = table(book, Query.parse({"show": AVERAGE, "status": "attempted"}, book))
    assert [h.key for h in one.headers] == [AVERAGE] and _names(one) == ["bo"]
    assert _names(table(book, Query.parse({"show": AVERAGE, "status": "new"}, book))) == ["cy"]
    exercises = table(book, Query.parse({"show": "exercises"}, book))
    assert all(h.key.startswith("exercise:") for h in exercises.headers) and len(exercises.headers) > 1
    questions = table(book, Query.parse({"show": "questions", "status": "new"}, book))
    assert all(h.key.startswith("questions:") for h in questions.headers)
    assert _names(questions) == ["bo", "ada"]  # cy answered one


def test_overall_status_of_several_columns() -> None:
    assert overall(["passed", "passed"]) == "passed"
    assert overall(["new", "passed"]) == "attempted"
    assert overall(["new", "new"]) == "new" and overall([]) == "new"


def test_sorts_by_name_total_and_a_column_with_untried_cells_last(course) -> None:  # type: ignore[no-untyped-def]
    book = gradebook()
    assert _names(table(book, Query.parse({}, book))) == ["cy", "bo", "ada"]  # cy; Ito, Bo; Lovelace, Ada
    assert _names(table(book, Query.parse({"dir": "desc"}, book))) == ["ada", "bo", "cy"]
    by_column = table(book, Query.parse({"sort": AVERAGE, "dir": "desc"}, book))
    assert _names(by_column) == ["ada", "bo", "cy"]
    assert _names(table(book, Query.parse({"sort": AVERAGE, "dir": "asc"}, book))) == ["bo", "ada", "cy"]
    assert _names(table(book, Query.parse({"sort": "total", "dir": "desc"}, book)))[0] == "ada"
    header = next(h for h in by_column.headers if h.key == AVERAGE)
    assert (
        header.sorted == "descending" and "dir" not in header.link
    )  # a second click: ascending, the default


def test_a_stale_or_hostile_query_falls_back_to_the_defaults(course) -> None:  # type: ignore[no-untyped-def]
    book = gradebook()
    query = Query.parse({"show": "gone", "sort": "<script>", "status": "x", "dir": "up", "page": "999"}, book)
    assert (query.show, query.sort, query.status, query.dir) == ("all", "student", "", "asc")
    assert table(book, query).rows.number == 1  # past the end: the last page


def test_pages_keep_the_filters(course, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(table_module, "PER_PAGE", 2)
    book = gradebook()
    first = table(book, Query.parse({"sort": "total", "dir": "desc"}, book))
    assert len(first.rows) == 2 and first.previous_link == ""
    assert "page=2" in first.next_link and "sort=total" in first.next_link and "dir=desc" in first.next_link
    second = table(book, Query.parse({"sort": "total", "dir": "desc", "page": "2"}, book))
    assert len(second.rows) == 1 and "page" not in second.previous_link  # page 1 is the default


def test_the_page_links_each_student_and_filters_without_script(client, course) -> None:  # type: ignore[no-untyped-def]
    client.force_login(user_create(username="prof2", role="instructor"))
    html = client.get(reverse("grades:gradebook"), {"q": "bo"}).content.decode()
    assert reverse("grades:student", args=[course["bo"].pk]) in html
    assert 'data-student="ada"' not in html and 'data-matched="1"' in html
    assert 'aria-sort="ascending"' in html  # the student column, sorted by default


def test_drafts_are_not_graded(course) -> None:  # type: ignore[no-untyped-def]
    course["exercise"].published = False  # an instructor took it back to draft: students cannot see it
    course["exercise"].save()
    Question.objects.filter(slug="step-100-needs-history").update(published=False)
    keys = {c.key for c in gradebook().columns}
    assert AVERAGE not in keys and "exercise:window-memory" in keys
    questions = next(c for c in gradebook().columns if c.key == "questions:general-recurrent-formula")
    assert (
        questions.points
        == Question.objects.filter(concept__slug="general-recurrent-formula", published=True).count()
    )
