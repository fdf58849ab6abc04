from __future__ import annotations

from django.urls import reverse

from apps.quiz.models import Attempt

URL = reverse("quiz:answer", args=["step-100-needs-history"])


def test_concept_page_shows_the_seed_question_and_rendered_math(logged_in) -> None:  # type: ignore[no-untyped-def]
    page = logged_in.get(reverse("course:concept", args=["general-recurrent-formula"])).content.decode()
    assert "General Recurrent Formula for Memory Update" in page
    assert 'class="arithmatex"' in page  # math marked up for KaTeX
    assert "vendor/katex/katex.min.js" in page
    assert "all 100 earlier steps (steps 0 to 99)" in page
    assert 'hx-post="' + URL in page


def test_the_right_answer_is_marked_correct_with_its_explanation(logged_in, student) -> None:  # type: ignore[no-untyped-def]
    response = logged_in.post(URL, {"answer": "false"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Correct." in html and "the past is summarised, never re-read" in html
    assert "<html" not in html  # a fragment for htmx, not a page
    assert Attempt.objects.get(user=student).correct is True


def test_a_wrong_answer_says_so_without_the_worked_answer(logged_in, student) -> None:  # type: ignore[no-untyped-def]
    html = logged_in.post(URL, {"answer": "true"}, headers={"HX-Request": "true"}).content.decode()
    assert "Not quite." in html and "the past is summarised" not in html
    assert "Attempt 2 of 3 · worth 50 %" in html
    assert Attempt.objects.get(user=student).correct is False


def test_no_answer_gives_a_message_and_stores_nothing(logged_in) -> None:  # type: ignore[no-untyped-def]
    response = logged_in.post(URL, {})
    assert response.status_code == 400
    assert "Choose True or False." in response.content.decode()
    assert "<html" in response.content.decode()  # without htmx: a whole page
    assert not Attempt.objects.exists()


def test_anonymous_users_are_sent_to_login(client, synced_course) -> None:  # type: ignore[no-untyped-def]
    response = client.post(URL, {"answer": "false"})
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
    assert not Attempt.objects.exists()


def test_the_attempt_history_and_the_dashboard_progress_follow_the_answers(logged_in, student) -> None:  # type: ignore[no-untyped-def]
    logged_in.post(URL, {"answer": "true"})
    html = logged_in.post(URL, {"answer": "false"}, headers={"HX-Request": "true"}).content.decode()
    assert (
        'aria-label="Your attempts">Attempts: <span class="failed">✗</span><span class="passed">✓</span>'
        in html
    )
    home = logged_in.get(reverse("course:home")).content.decode()
    assert (
        '<li data-status="started"><a href="' + reverse("course:concept", args=["general-recurrent-formula"])
        in home
    )
