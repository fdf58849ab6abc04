"""Draft and published (issue 19, item 6), the quiz's half: a student cannot answer a question that is a draft,
or whose concept is (a 404, nothing stored); an instructor can try it out."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.course.models import Concept
from apps.quiz.models import Attempt, Question

SLUG = "step-100-needs-history"  # true or false: {"value": False}
HTMX = {"HX-Request": "true"}


@pytest.mark.parametrize("hidden_by", ["question", "concept"])
def test_answering_a_hidden_question_is_a_404(client, synced_course, student, instructor, hidden_by) -> None:  # type: ignore[no-untyped-def]
    if hidden_by == "question":
        Question.objects.filter(slug=SLUG).update(published=False)
    else:
        Concept.objects.filter(questions__slug=SLUG).update(published=False)
    url = reverse("quiz:answer", args=[SLUG])
    client.force_login(student)
    assert client.post(url, {"answer": "false"}, headers=HTMX).status_code == 404
    assert client.post(url, {"give_up": "1"}).status_code == 404
    assert not Attempt.objects.exists()

    client.force_login(instructor)
    html = client.post(url, {"answer": "false"}, headers=HTMX).content.decode()
    assert "Correct." in html and Attempt.objects.filter(user=instructor).count() == 1


def test_a_published_question_on_a_published_concept_takes_answers(client, synced_course, student) -> None:  # type: ignore[no-untyped-def]
    client.force_login(student)
    html = client.post(
        reverse("quiz:answer", args=[SLUG]), {"answer": "false"}, headers=HTMX
    ).content.decode()
    assert "Correct." in html and Attempt.objects.get(user=student).correct
