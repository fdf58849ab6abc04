"""Every question kind: parsing what a student types, scoring it, and randomized variants per student."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.http import QueryDict
from django.urls import reverse

from apps.quiz.models import Attempt, Question
from apps.quiz.scoring import InvalidResponse, is_correct, parse_response
from apps.quiz.selectors import question_shown
from tests.support.factories import user_create


def form(**fields: str | list[str]) -> QueryDict:
    data = QueryDict(mutable=True)
    for key, value in fields.items():
        data.setlist(key, value if isinstance(value, list) else [value])
    return data


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("0.25", 0.25),
        (" −1.5e-3 ", -0.0015),
        ("1, 2", [1.0, 2.0]),
        ("[1, -2.5]", [1.0, -2.5]),
        ("1 2; 3 4", [[1.0, 2.0], [3.0, 4.0]]),
        ("[[1, 2], [3, 4]]", [[1.0, 2.0], [3.0, 4.0]]),
    ],
)
def test_typed_numbers_vectors_and_matrices_parse(typed: str, value: Any) -> None:
    kind = "numeric" if isinstance(value, float) else "vector"
    assert parse_response(kind=kind, data=form(answer=typed), n_choices=0) == {"value": value}


@pytest.mark.parametrize(
    ("kind", "typed", "complaint"),
    [
        ("numeric", "", "Type a number"),
        ("numeric", "one half", "is not a number"),
        ("numeric", "inf", "finite"),
        ("vector", "1, 2; 3", "same number of entries"),
        ("vector", "1," * 300, "At most 256 numbers"),
        ("vector", "1" * 2500, "too long"),
    ],
)
def test_malformed_typed_answers_say_what_to_type(kind: str, typed: str, complaint: str) -> None:
    with pytest.raises(InvalidResponse, match=complaint):
        parse_response(kind=kind, data=form(answer=typed), n_choices=0)


def test_numbers_are_compared_with_a_tolerance_and_shapes_must_match() -> None:
    key = {"value": [2.0, 0.6667], "rtol": 1e-3}
    assert is_correct(kind="vector", answer=key, response={"value": [2.0, 0.66667]})
    assert not is_correct(kind="vector", answer=key, response={"value": [2.0, 0.7]})
    assert not is_correct(kind="vector", answer=key, response={"value": [2.0, 0.6667, 0.0]})
    assert not is_correct(kind="numeric", answer={"value": 1.0}, response={"value": [1.0]})


def test_multiple_choice_needs_exactly_the_right_set() -> None:
    response = parse_response(kind="multiple_choice", data=form(answer=["2", "0"]), n_choices=3)
    assert response == {"choices": [0, 2]}
    assert is_correct(kind="multiple_choice", answer={"choices": [2, 0]}, response=response)
    assert not is_correct(kind="multiple_choice", answer={"choices": [0]}, response=response)
    with pytest.raises(InvalidResponse):
        parse_response(kind="multiple_choice", data=form(answer=["3"]), n_choices=3)


def test_ordering_reads_a_position_per_item_and_each_position_once() -> None:
    right = parse_response(kind="ordering", data=form(**{"position-0": "1", "position-1": "2"}), n_choices=2)
    assert right == {"order": [0, 1]} and is_correct(kind="ordering", answer={}, response=right)
    wrong = parse_response(kind="ordering", data=form(**{"position-0": "2", "position-1": "1"}), n_choices=2)
    assert not is_correct(kind="ordering", answer={}, response=wrong)
    with pytest.raises(InvalidResponse, match="each position once"):
        parse_response(kind="ordering", data=form(**{"position-0": "1", "position-1": "1"}), n_choices=2)


RANDOMIZED = "calculating-a-recurrent-memory-state"


def _keys(variant: dict[str, Any]) -> list[list[float]]:
    return [json.loads(variant["vars"][f"k{i}"]) for i in range(3)]


def test_every_variant_answer_is_the_mean_of_its_keys(synced_course: None) -> None:
    question = Question.objects.get(slug=RANDOMIZED)
    assert len(question.variants) >= 8
    for variant in question.variants:  # recomputed here without the reference: the mean of the three keys
        keys = _keys(variant)
        mean = [sum(k[j] for k in keys) / 3 for j in range(2)]
        assert variant["answer"]["value"] == pytest.approx(mean, abs=1e-6)
    assert len({json.dumps(v["vars"]) for v in question.variants}) == len(question.variants)


def test_two_students_get_different_numbers_and_each_is_graded_on_their_own(client, synced_course) -> None:  # type: ignore[no-untyped-def]
    question = Question.objects.get(slug=RANDOMIZED)
    users = [user_create(username=f"student{n}") for n in range(6)]
    shown = {u.pk: question_shown(question=question, user=u) for u in users}
    first = users[0]
    other = next(u for u in users[1:] if shown[u.pk].variant != shown[first.pk].variant)
    assert shown[first.pk].stem != shown[other.pk].stem  # different numbers in the text
    url = reverse("quiz:answer", args=[RANDOMIZED])
    mine = ", ".join(f"{x:g}" for x in shown[first.pk].answer["value"])
    theirs = ", ".join(f"{x:g}" for x in shown[other.pk].answer["value"])
    client.force_login(first)
    page = client.get(reverse("course:concept", args=["general-recurrent-formula"])).content.decode()
    assert shown[first.pk].stem.split("$k_0 = ")[1].split("$")[0] in page
    client.post(url, {"answer": theirs})
    second = question_shown(question=question, user=first, attempt=1)  # a wrong answer: a fresh variant
    assert second.variant != shown[first.pk].variant and second.stem != shown[first.pk].stem
    client.post(url, {"answer": ", ".join(f"{x:g}" for x in second.answer["value"])})
    attempts = list(Attempt.objects.filter(user=first).order_by("created_at"))
    assert [a.correct for a in attempts] == [mine == theirs, True]
    assert [a.variant for a in attempts] == [shown[first.pk].variant, second.variant]


def test_an_ordering_question_is_shown_shuffled_and_scored(logged_in, student) -> None:  # type: ignore[no-untyped-def]
    question = Question.objects.get(slug="one-decoding-step-in-order")
    shown = question_shown(question=question, user=student)
    assert shown.order != sorted(shown.order)  # never shown in the right order
    page = logged_in.get(reverse("course:concept", args=["general-recurrent-formula"])).content.decode()
    assert 'name="position-0"' in page and 'name="position-3"' in page
    url = reverse("quiz:answer", args=["one-decoding-step-in-order"])
    html = logged_in.post(
        url, {f"position-{i}": str(i + 1) for i in range(4)}, headers={"HX-Request": "true"}
    )
    assert "Correct." in html.content.decode()


def test_every_randomized_question_shows_students_different_numbers(synced_course: None) -> None:
    randomized = list(Question.objects.exclude(generator=""))
    assert len(randomized) >= 8
    students = [user_create(username=f"s{n}") for n in range(8)]
    for question in randomized:
        stems = {question_shown(question=question, user=s).stem for s in students}
        assert len(stems) >= 2, f"{question.slug}: eight students all saw the same numbers"
