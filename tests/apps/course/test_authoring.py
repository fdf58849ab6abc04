"""Concepts and questions edited in the browser, in the course files' own format, with a live preview."""

from __future__ import annotations

from django.urls import reverse

from apps.course.models import Concept
from apps.quiz.models import Question
from tests.support.factories import user_create


def _prof(client):  # type: ignore[no-untyped-def]
    client.force_login(user_create(username="prof", role="instructor"))
    return client


def test_an_instructor_edits_a_concept_and_its_links(client, synced_course) -> None:  # type: ignore[no-untyped-def]
    client = _prof(client)
    url = reverse("course:concept-edit", args=["attention-sinks"])
    text = client.get(url).content.decode()
    assert "slug: attention-sinks" in text  # the page's own file text
    source = Concept.objects.get(slug="attention-sinks")
    from apps.course.content_files import concept_text

    edited = concept_text(source).replace(source.title, "Attention sinks, edited", 1)
    response = client.post(url, {"text": edited})
    assert (
        response.status_code == 302
        and Concept.objects.get(slug="attention-sinks").title == "Attention sinks, edited"
    )
    broken = edited.replace("learn_before:", "learn_before:\n- no-such-page", 1)
    response = client.post(url, {"text": broken})
    assert response.status_code == 400 and "do not exist" in response.content.decode()


def test_an_instructor_adds_a_randomized_question(client, synced_course) -> None:  # type: ignore[no-untyped-def]
    client = _prof(client)
    text = (
        "slug: ema-fresh\nconcept: exponential-moving-average\nkind: numeric\ngenerator: ema-scalar\nposition: 99\n"
        "stem: |\n  With $\\\\alpha = [[alpha]]$ and inputs [[x0]], [[x1]], [[x2]], what is the EMA?\n"
        "explanation: |\n  It is [[answer]].\n"
    )
    response = client.post(reverse("course:question-new"), {"text": text})
    assert response.status_code == 302, response.content.decode()[:500]
    question = Question.objects.get(slug="ema-fresh")
    assert question.generator == "ema-scalar" and len(question.variants) == 24  # computed by the reference
    again = client.post(reverse("course:question-new"), {"text": text})  # the slug is taken now
    assert again.status_code == 400 and "is taken" in again.content.decode()


def test_the_preview_shows_the_body_or_the_stem(client, db) -> None:  # type: ignore[no-untyped-def]
    client = _prof(client)
    concept = client.post(
        reverse("course:preview"), {"text": "---\nslug: x\n---\nIntro.\n\n# Body\n$y$"}
    ).content.decode()
    assert (
        "<h2>Body</h2>" in concept and "<h1>" not in concept and "slug" not in concept
    )  # the page holds the H1
    question = client.post(
        reverse("course:preview"), {"text": "stem: Is $x$ true?\nexplanation: Yes."}
    ).content.decode()
    assert "Is" in question and "Explanation." in question
