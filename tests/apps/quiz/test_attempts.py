"""Attempts as a fair course runs them: a fresh variant per attempt, choices shuffled per variant, giving up,
per-option feedback, and the credit of the first correct attempt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from apps.course.content_files import ContentError, parse_question_text, question_text
from apps.quiz.credit import question_score, standing, worth
from apps.quiz.kinds import InvalidResponse
from apps.quiz.models import Attempt, Question
from apps.quiz.selectors import question_shown, question_view
from apps.quiz.services import attempt_create, attempt_give_up
from apps.quiz.variants import variant_index
from tests.apps.quiz.test_kinds import form
from tests.support.factories import user_create

RANDOMIZED = "calculating-a-recurrent-memory-state"
CHOICES = "which-update-is-not-recurrent"  # single choice, four options, feedback per option


# --- credit: pure -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "max_attempts", "score"),
    [
        ([True], 3, 1.0),
        ([False, True], 3, 0.5),
        ([False, False, True], 3, 0.25),
        ([False, False, False, True], 3, 0.0),  # past the attempts allowed
        ([False, False, False, True], None, 0.25),  # unlimited: past the list, its last value
        ([], 3, 0.0),
        ([True, False], 3, 1.0),  # the first correct attempt counts
    ],
)
def test_a_question_scores_the_credit_of_the_first_correct_attempt(
    answers: list[bool], max_attempts: int | None, score: float
) -> None:
    assert question_score(answers, max_attempts=max_attempts, credit=[1.0, 0.5, 0.25]) == score


def test_the_standing_says_which_attempt_comes_and_what_it_is_worth() -> None:
    fresh = standing([], max_attempts=3, credit=[1.0, 0.5, 0.25])
    assert (fresh.number, fresh.left, fresh.worth_percent, fresh.done) == (1, 3, 100, False)
    second = standing([False], max_attempts=3, credit=[1.0, 0.5, 0.25])
    assert (second.number, second.left, second.worth_percent, second.done) == (2, 2, 50, False)
    out = standing([False, False, False], max_attempts=3, credit=[1.0, 0.5, 0.25])
    assert (out.left, out.done, out.solved, out.score) == (0, True, False, 0.0)
    solved = standing([False, True], max_attempts=3, credit=[1.0, 0.5, 0.25])
    assert (solved.done, solved.score_percent) == (True, 50)
    endless = standing([False] * 7, max_attempts=None, credit=[1.0, 0.5])
    assert (endless.left, endless.done, endless.worth_percent) == (None, False, 50)
    assert worth([], 4) == 1.0


# --- drawing variants: pure -----------------------------------------------------------------------------------


def test_each_attempt_draws_a_new_variant_and_a_reload_draws_the_same() -> None:
    variants = [{"vars": {"x": str(i)}, "answer": {"value": i}} for i in range(24)]
    drawn = [variant_index(user_id=7, slug="q", n=24, attempt=k, variants=variants) for k in range(24)]
    assert sorted(drawn) == list(range(24))  # every variant once before any comes back
    assert drawn == [
        variant_index(user_id=7, slug="q", n=24, attempt=k, variants=variants) for k in range(24)
    ]
    assert variant_index(user_id=7, slug="q", n=24, attempt=24, variants=variants) == drawn[0]
    other = [variant_index(user_id=8, slug="q", n=24, attempt=k, variants=variants) for k in range(24)]
    assert other != drawn  # another student, another sequence
    assert variant_index(user_id=7, slug="q", n=0, attempt=3) is None


def test_variants_with_the_same_numbers_as_an_earlier_one_are_never_drawn() -> None:
    variants = [{"vars": {"x": str(i % 3)}, "answer": {"value": i % 3}} for i in range(9)]
    drawn = {variant_index(user_id=1, slug="q", n=9, attempt=k, variants=variants) for k in range(30)}
    assert drawn == {0, 1, 2}


# --- in the database -----------------------------------------------------------------------------------------


def test_a_wrong_answer_moves_on_to_a_fresh_variant_with_new_numbers(synced_course) -> None:  # type: ignore[no-untyped-def]
    question = Question.objects.get(slug=RANDOMIZED)
    student = user_create(username="retry")
    first = question_view(question=question, user=student)
    assert first.shown.attempt == 0 and not first.reveal
    attempt_create(user=student, question=question, data=form(answer="999"), number=1)
    second = question_view(question=question, user=student)
    assert second.shown.variant != first.shown.variant and second.shown.stem != first.shown.stem
    assert second.fresh and not second.reveal and second.standing is not None
    assert (second.standing.number, second.standing.worth_percent) == (2, 50)
    assert question_view(question=question, user=student).shown == second.shown  # a reload: the same numbers
    right = ", ".join(f"{x:g}" for x in second.shown.answer["value"])
    stored = attempt_create(user=student, question=question, data=form(answer=right), number=2)
    assert (stored.correct, stored.variant, stored.number) == (True, second.shown.variant, 2)
    done = question_view(question=question, user=student)
    assert done.done and done.reveal and done.shown == second.shown  # the solved variant, with its answer
    with pytest.raises(InvalidResponse, match="correctly already"):
        attempt_create(user=student, question=question, data=form(answer=right))


def test_choices_are_shuffled_per_variant_and_stay_put_within_it(synced_course) -> None:  # type: ignore[no-untyped-def]
    question = Question.objects.get(slug=CHOICES)
    students = [user_create(username=f"order{n}") for n in range(4)]
    for s in students:
        orders = [question_shown(question=question, user=s, attempt=k).order for k in range(6)]
        assert orders == [question_shown(question=question, user=s, attempt=k).order for k in range(6)]
        assert all(sorted(o) == [0, 1, 2, 3] for o in orders)
        assert len({tuple(o) for o in orders}) > 1  # a new attempt, a new order
    firsts = {tuple(question_shown(question=question, user=s).order) for s in students}
    assert len(firsts) > 1 and {tuple(range(4))} != firsts  # shuffled, not as written


def test_giving_up_spends_the_variant_and_shows_its_answer(synced_course) -> None:  # type: ignore[no-untyped-def]
    question = Question.objects.get(slug=RANDOMIZED)
    student = user_create(username="quitter")
    given_up = question_shown(question=question, user=student)
    attempt = attempt_give_up(user=student, question=question, number=1)
    assert (attempt.gave_up, attempt.correct, attempt.variant) == (True, False, given_up.variant)
    view = question_view(question=question, user=student)
    assert view.reveal and view.fresh and view.reported == given_up  # its worked answer, beside a fresh one
    assert view.shown.variant != given_up.variant
    assert question_score([False], max_attempts=question.max_attempts, credit=question.credit) == 0.0


def test_a_form_for_another_attempt_and_a_spent_question_are_refused(synced_course) -> None:  # type: ignore[no-untyped-def]
    question = Question.objects.get(slug="step-100-needs-history")
    student = user_create(username="two-tabs")
    attempt_create(user=student, question=question, data=form(answer="true"), number=1)
    with pytest.raises(InvalidResponse, match="another tab"):
        attempt_create(user=student, question=question, data=form(answer="false"), number=1)
    attempt_give_up(user=student, question=question, number=2)
    attempt_create(user=student, question=question, data=form(answer="true"), number=3)
    with pytest.raises(InvalidResponse, match="No attempts are left"):
        attempt_create(user=student, question=question, data=form(answer="false"))
    assert [(a.number, a.correct, a.gave_up) for a in Attempt.objects.order_by("number")] == [
        (1, False, False), (2, False, True), (3, False, False),
    ]  # fmt: skip
    view = question_view(question=question, user=student)
    assert view.done and view.reveal  # nothing left to gain: the worked answer is shown


def test_the_page_shows_option_feedback_and_the_answer_after_giving_up(logged_in: Any) -> None:
    url = reverse("quiz:answer", args=[CHOICES])
    page = logged_in.get(reverse("course:concept", args=["general-recurrent-formula"])).content.decode()
    assert "Attempt 1 of 3 · worth 100 %" in page and 'name="give_up"' in page
    html = logged_in.post(
        url, {"answer": "0", "attempt": "1"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "Not quite." in html and "it is recurrent." in html  # the author's note on the picked option
    assert "The third procedure" not in html and "Attempt 2 of 3 · worth 50 %" in html
    html = logged_in.post(
        url, {"give_up": "1", "attempt": "2"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "so that variant scores nothing" in html and "The third procedure" in html
    assert "Attempt 3 of 3 · worth 25 %" in html
    html = logged_in.post(
        url, {"answer": "2", "attempt": "3"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "Correct." in html and "Scored 25 %" in html and "✓ right answer" in html
    assert 'name="give_up"' not in html  # solved: no more answers


# --- the course files -------------------------------------------------------------------------------------------

FILE = """slug: pick-one
concept: c
kind: single_choice
stem: Which?
choices: [a, b]
answer: {choice: 1}
explanation: Because.
"""


def test_the_loader_reads_and_checks_feedback_attempts_and_credit() -> None:
    plain = parse_question_text(FILE, Path("p.yaml"))
    assert (plain.feedback, plain.max_attempts, plain.credit) == ([], 3, [1.0, 0.5, 0.25])
    rich = parse_question_text(
        FILE + "feedback: ['Not a.', '']\nmax_attempts: unlimited\ncredit: [1, 0.8]\n", Path("p.yaml")
    )
    assert (rich.feedback, rich.max_attempts, rich.credit) == (["Not a.", ""], None, [1.0, 0.8])
    for extra, message in [
        ("feedback: [only one]", r"p.yaml: 'feedback' has 1 entries for 2 choices"),
        ("feedback: text", r"p.yaml: 'feedback' must be a list of texts"),
        ("max_attempts: 0", r"p.yaml: 'max_attempts' must be a number of 1 or more, or unlimited"),
        ("credit: [1.0, 1.5]", r"p.yaml: 'credit' must list what each attempt earns, from 0 to 1"),
        ("credit: []", r"p.yaml: 'credit' must list"),
    ]:
        with pytest.raises(ContentError, match=message):
            parse_question_text(FILE + extra + "\n", Path("p.yaml"))


def test_feedback_attempts_and_credit_survive_an_export(synced_course) -> None:  # type: ignore[no-untyped-def]
    for slug in (CHOICES, "one-decoding-step-in-order", "step-100-needs-history"):
        question = Question.objects.get(slug=slug)
        again = parse_question_text(question_text(question), Path(f"{slug}.yaml"))
        assert (again.feedback, again.max_attempts, again.credit) == (
            question.feedback, question.max_attempts, question.credit,
        )  # fmt: skip
    assert Question.objects.get(slug="one-decoding-step-in-order").max_attempts == 2
