"""A question kind is one module behind one registry: a toy kind registered here works everywhere.

The ``word`` kind below (type one word, any case) lives only in this file and its partial in a temporary template
folder. Registering it is all it takes for the course loader and the browser editor to accept its questions, for
a student's variant to be drawn, for an answer to be parsed and scored, and for the question page to render its
inputs; the fixture unregisters it again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.template.loader import get_template
from django.urls import reverse

from apps.course.authoring import question_save
from apps.course.content_files import ContentError, parse_question_text
from apps.course.models import Concept
from apps.quiz import kinds
from apps.quiz.kinds import AnswerKeyError, Form, InvalidResponse, QuestionKind
from apps.quiz.models import Attempt, Question
from apps.quiz.selectors import question_shown
from tests.support.factories import user_create

BUILT_IN = ["true_false", "single_choice", "multiple_choice", "numeric", "vector", "ordering"]


class Word(QuestionKind):
    """Type one word. Key ``{word: text}``; the choices are a word bank, shown last first (its own order)."""

    name = "word"
    label = "One word"

    def check_key(self, *, answer: dict[str, Any], choices: list[str]) -> None:
        word = answer.get("word")
        if not isinstance(word, str) or not word.strip() or " " in word.strip():
            raise AnswerKeyError("a word answer is {word: text}, one word")

    def parse(self, *, data: Form, n_choices: int) -> dict[str, Any]:
        raw = str(data.get("answer") or "").strip()
        if not raw or " " in raw:
            raise InvalidResponse("Type one word.")
        return {"word": raw.lower()}

    def score(self, *, answer: dict[str, Any], response: dict[str, Any]) -> bool:
        return bool(response.get("word") == str(answer.get("word", "")).lower())

    def order(self, *, seed: str, n: int) -> list[int]:
        return list(reversed(range(n)))


PARTIAL = (
    '<p class="word-bank">{% for index, choice in item.items %}<span>{{ choice }}</span>{% endfor %}</p>\n'
    '<input type="text" name="answer" data-kind="word" value="{{ last.response.word|default:\'\' }}">\n'
)
FILE = """slug: the-word
concept: words
kind: word
stem: Which word names Mem_i = f((k_i, v_i), Mem_{i-1})?
choices: [average, recurrence, window]
answer: {word: Recurrence}
explanation: Each state is computed from the previous one.
"""


@pytest.fixture
def word_kind(settings, tmp_path: Path) -> Iterator[QuestionKind]:  # type: ignore[no-untyped-def]
    """The toy kind, registered, with its partial at quiz/kinds/word.html in a template folder of its own."""
    (tmp_path / "quiz" / "kinds").mkdir(parents=True)
    (tmp_path / "quiz" / "kinds" / "word.html").write_text(PARTIAL, encoding="utf-8")
    engine = settings.TEMPLATES[0]
    settings.TEMPLATES = [{**engine, "DIRS": [*engine["DIRS"], tmp_path]}]
    kind = kinds.register(Word())
    try:
        yield kind
    finally:
        kinds.unregister(kind.name)


def test_the_built_in_kinds_are_registered_in_order_each_with_its_partial() -> None:
    assert kinds.names() == BUILT_IN
    assert [value for value, _ in Question._meta.get_field("kind").choices] == BUILT_IN
    for kind in kinds.all_kinds():
        assert kind.template == f"quiz/kinds/{kind.name}.html"
        get_template(kind.template)  # raises TemplateDoesNotExist when a kind has no partial


def test_a_name_is_registered_once_and_an_unknown_one_is_named() -> None:
    with pytest.raises(ValueError, match="already registered"):
        kinds.register(kinds.get("numeric"))
    with pytest.raises(kinds.UnknownKind, match="'word'"):
        kinds.get("word")
    assert kinds.find("word") is None


def test_the_loader_refuses_an_unregistered_kind() -> None:
    with pytest.raises(ContentError, match=r"the-word.yaml: kind 'word' is not one of \['multiple_choice'"):
        parse_question_text(FILE, Path("the-word.yaml"))


def test_registering_a_kind_makes_the_loader_accept_it_with_its_own_key_check(
    word_kind: QuestionKind,
) -> None:
    item = parse_question_text(FILE, Path("the-word.yaml"))
    assert (item.kind, item.answer) == ("word", {"word": "Recurrence"})
    assert Question._meta.get_field("kind").choices[-1] == ("word", "One word")  # the model's choices follow
    with pytest.raises(ContentError, match=r"^two.yaml: a word answer is \{word: text\}, one word$"):
        parse_question_text(FILE.replace("word: Recurrence", "word: two words"), Path("two.yaml"))
    with pytest.raises(ContentError, match="a randomized question .generator. must be numeric or vector"):
        parse_question_text(
            FILE.replace("answer: {word: Recurrence}", "generator: ema-scalar"), Path("r.yaml")
        )


def test_a_registered_kind_is_drawn_parsed_scored_and_rendered(client, db, word_kind) -> None:  # type: ignore[no-untyped-def]
    Concept.objects.create(slug="words", title="Words", body="A page of words.", published=True)
    # the browser editor's path: parsed by the loader (and published: the student below sees it)
    question = question_save(text=FILE, editing=None, published=True)
    question.full_clean()  # the stored kind is a valid choice without a migration
    assert question.get_kind_display() == "One word"
    # Two variants with their own keys: each student is scored against the variant drawn for them.
    question.variants = [
        {"vars": {}, "answer": {"word": "recurrence"}},
        {"vars": {}, "answer": {"word": "scan"}},
    ]
    question.save()
    student = user_create(username="wordsmith")
    shown = question_shown(question=question, user=student)
    assert shown.order == [2, 1, 0]  # the kind's own order for the word bank
    assert shown.answer == question.variants[shown.variant]["answer"]

    client.force_login(student)
    page = client.get(reverse("course:concept", args=["words"])).content.decode()
    assert (
        '<p class="word-bank"><span>window</span><span>recurrence</span><span>average</span></p>' in page
        and 'data-kind="word"' in page
    )
    url = reverse("quiz:answer", args=["the-word"])
    refused = client.post(url, {"answer": "two words"}, headers={"HX-Request": "true"}).content.decode()
    assert "Type one word." in refused and not Attempt.objects.exists()
    right = shown.answer["word"].upper()
    html = client.post(url, {"answer": right}, headers={"HX-Request": "true"}).content.decode()
    assert "Correct." in html and f'data-kind="word" value="{right.lower()}"' in html
    attempt = Attempt.objects.get(user=student)
    assert (attempt.response, attempt.correct, attempt.variant) == (
        {"word": right.lower()},
        True,
        shown.variant,
    )
