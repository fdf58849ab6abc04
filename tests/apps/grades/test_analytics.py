"""Item analytics: difficulty and discrimination on first attempts, and the share right per variant."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.grades.analytics import item_stats, point_biserial
from apps.quiz.models import Attempt, Question
from tests.support.factories import user_create


def test_point_biserial_is_pearson_on_a_binary_item() -> None:
    assert point_biserial([(1, 3), (1, 2), (0, 1), (0, 0)]) == pytest.approx(0.8944, abs=1e-4)
    assert point_biserial([(1, 3), (1, 2)]) is None  # the item does not vary


def test_difficulty_discrimination_and_variants_from_first_attempts(client, synced_course) -> None:  # type: ignore[no-untyped-def]
    easy = Question.objects.get(slug="step-100-needs-history")
    separating = Question.objects.get(slug="which-update-is-not-recurrent")
    randomized = Question.objects.get(slug="calculating-a-recurrent-memory-state")
    students = [user_create(username=f"s{i}") for i in range(6)]
    for i, s in enumerate(students):
        strong = i < 3  # the first three know the material
        Attempt.objects.create(user=s, question=easy, response={}, correct=True)
        Attempt.objects.create(user=s, question=separating, response={}, correct=strong)
        Attempt.objects.create(user=s, question=randomized, response={}, correct=strong, variant=i % 2)
        Attempt.objects.create(user=s, question=separating, response={}, correct=True)  # a retry: not counted
    stats = {item.question.slug: item for item in item_stats()}
    assert stats[easy.slug].difficulty == 1.0 and stats[easy.slug].discrimination is None  # no variance
    assert stats[separating.slug].difficulty == 0.5 and stats[separating.slug].discrimination > 0.9
    assert stats[randomized.slug].variant_rows == [(0, 3, 2 / 3), (1, 3, 1 / 3)]
    client.force_login(user_create(username="prof", role="instructor"))
    page = client.get(reverse("grades:analytics")).content.decode()
    assert f'data-slug="{separating.slug}"' in page and "0: 3, 0.67; 1: 3, 0.33" in page


def test_give_ups_count_as_wrong_and_score_nothing(client, synced_course) -> None:  # type: ignore[no-untyped-def]
    question = Question.objects.get(slug="step-100-needs-history")
    question.max_attempts, question.credit = 3, [1.0, 0.5]
    question.save()
    plays = {
        "gave-up-then-right": [None, True],
        "right": [True],
        "gave-up": [None],
    }  # None: "Show the answer"
    for name, answers in plays.items():
        student = user_create(username=name)
        for number, right in enumerate(answers, start=1):
            Attempt.objects.create(
                user=student,
                question=question,
                response={},
                number=number,
                correct=bool(right),
                gave_up=right is None,
            )
    instructor = user_create(username="prof", role="instructor")
    Attempt.objects.create(
        user=instructor, question=question, response={}, correct=False, gave_up=True
    )  # not counted
    item = next(i for i in item_stats() if i.question == question)
    assert (item.n, item.right, item.gave_up) == (3, 1, 2)  # first attempts: a give-up is wrong
    assert item.mean_score == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    client.force_login(instructor)
    page = client.get(reverse("grades:analytics")).content.decode()
    assert 'data-gave-up="2"' in page
