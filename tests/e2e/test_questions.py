"""Questions as a fair course runs them, in a real headless Chromium at 1280×900 and 390×844: a wrong answer
draws a new variant (new numbers) without the worked answer, "Show the answer" reveals it and scores nothing, a
right answer says "Correct." with the explanation, choices keep their order within a variant across a reload, and
the card says which attempt it is and what it is worth."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apps.quiz.credit import question_score
from apps.quiz.models import Attempt, Question
from apps.quiz.selectors import question_shown

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
CONCEPT = "/concepts/general-recurrent-formula/"
RANDOMIZED = "calculating-a-recurrent-memory-state"  # a vector answer, numbers drawn per attempt
CHOICES = "which-update-is-not-recurrent"  # single choice with feedback per option


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def signed_in(browser, live_server, student, synced_course, viewport: str) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A page at the viewport, signed in as the student, on the concept page with the questions."""
    context = browser.new_context(viewport=VIEWPORTS[viewport], has_touch=viewport == "phone")
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", student.username)
    page.fill("#id_password", "pw-for-tests")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}{CONCEPT}")
    yield page
    context.close()


def _stem(page: Any, slug: str) -> str:
    return str(page.inner_text(f"#question-{slug} legend"))


def _meta(page: Any, slug: str) -> str:
    return str(page.inner_text(f"#question-{slug} [data-role=attempt-meta]"))


def _vector(values: list[float]) -> str:
    return ", ".join(f"{x:g}" for x in values)


@pytest.mark.django_db(transaction=True)
def test_a_wrong_answer_draws_new_numbers_and_no_worked_answer(
    signed_in: Any, student: Any, viewport: str, artifacts: Path
) -> None:
    page, card = signed_in, f"#question-{RANDOMIZED}"
    before = _stem(page, RANDOMIZED)
    assert _meta(page, RANDOMIZED) == "Attempt 1 of 3 · worth 100 %"
    page.locator(card).get_by_label("Your answer").fill("999")
    page.locator(card).get_by_role("button", name="Check answer").click()
    page.wait_for_selector(f"{card} .verdict.failed")
    assert page.inner_text(f"{card} .verdict") == "Not quite."
    assert page.locator(f"{card} .explanation").count() == 0  # no worked answer after a wrong one
    after = _stem(page, RANDOMIZED)
    assert after != before  # a fresh variant: new numbers
    assert page.input_value(f"{card} input[name=answer]") == ""  # the old answer is not carried over
    assert _meta(page, RANDOMIZED) == "Attempt 2 of 3 · worth 50 %"
    page.reload()
    assert _stem(page, RANDOMIZED) == after  # a reload keeps the variant
    page.screenshot(path=str(artifacts / f"question-wrong-{viewport}.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
def test_giving_up_shows_the_answer_and_scores_nothing(signed_in: Any, student: Any, viewport: str) -> None:
    page, card = signed_in, f"#question-{RANDOMIZED}"
    question = Question.objects.get(slug=RANDOMIZED)
    given_up = question_shown(question=question, user=student, attempt=0)
    page.locator(card).get_by_role("button", name="Show the answer").click()
    page.wait_for_selector(f"{card} .explanation")
    text = page.inner_text(f"{card} .feedback")
    assert "Not quite: you asked for the answer, so that variant scores nothing." in text
    worked = str(page.text_content(f"{card} .explanation"))  # KaTeX keeps each formula's TeX source in it
    numbers = question.variants[given_up.variant]["vars"]
    assert numbers["k0"] in worked and numbers["answer"] in worked  # that variant's worked answer
    assert page.locator(f"{card} .explanation").is_visible()
    attempts = list(Attempt.objects.filter(user=student, question=question))
    assert [(a.gave_up, a.correct, a.variant) for a in attempts] == [(True, False, given_up.variant)]
    assert question_score([False], max_attempts=question.max_attempts, credit=question.credit) == 0.0
    assert _meta(page, RANDOMIZED) == "Attempt 2 of 3 · worth 50 %"
    assert _stem(page, RANDOMIZED) != page.inner_text(f"{card} .revealed .prose")  # a fresh variant above


@pytest.mark.django_db(transaction=True)
def test_a_right_answer_says_correct_and_shows_the_explanation(
    signed_in: Any, student: Any, viewport: str, artifacts: Path
) -> None:
    page, card = signed_in, f"#question-{RANDOMIZED}"
    shown = question_shown(question=Question.objects.get(slug=RANDOMIZED), user=student, attempt=0)
    page.locator(card).get_by_label("Your answer").fill(_vector(shown.answer["value"]))
    page.locator(card).get_by_role("button", name="Check answer").click()
    page.wait_for_selector(f"{card} .verdict.passed")
    assert page.inner_text(f"{card} .verdict") == "Correct."
    assert page.locator(f"{card} .explanation").is_visible()
    assert _meta(page, RANDOMIZED) == "Scored 100 %"
    assert page.locator(card).get_by_role("button", name="Check answer").count() == 0  # solved: done
    page.screenshot(path=str(artifacts / f"question-correct-{viewport}.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
def test_choices_keep_their_order_within_a_variant_and_the_picked_option_has_feedback(
    signed_in: Any, student: Any, viewport: str
) -> None:
    page, card = signed_in, f"#question-{CHOICES}"
    radios = f"{card} input[name=answer]"

    def order() -> list[str]:
        return [str(v) for v in page.eval_on_selector_all(radios, "els => els.map(e => e.value)")]

    first = order()
    question = Question.objects.get(slug=CHOICES)
    assert first == [str(i) for i in question_shown(question=question, user=student, attempt=0).order]
    page.reload()
    assert order() == first  # a reload keeps the variant's order
    assert _meta(page, CHOICES) == "Attempt 1 of 3 · worth 100 %"
    page.locator(f"{radios}[value='0']").check()  # the moving average: recurrent, so wrong
    page.locator(card).get_by_role("button", name="Check answer").click()
    page.wait_for_selector(f"{card} .verdict.failed")
    assert "it is recurrent." in page.inner_text(f"{card} .option-feedback")
    assert page.locator(f"{card} .explanation").count() == 0
    second = order()
    assert second == [str(i) for i in question_shown(question=question, user=student, attempt=1).order]
    assert _meta(page, CHOICES) == "Attempt 2 of 3 · worth 50 %"
    page.reload()
    assert order() == second
