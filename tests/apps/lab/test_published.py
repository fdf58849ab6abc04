"""Draft and published (issue 19, item 6), the lab's half: for a student, an exercise that is a draft, or whose
concept is, does not exist (its page and every endpoint a 404, nothing stored); an instructor sees and edits it,
marked "Draft"; an exercise written in the browser starts as a draft, and the Published box or the Publish button
changes that."""

from __future__ import annotations

import pytest
import yaml
from django.urls import reverse

from apps.course.models import Concept
from apps.lab.authoring import spec_yaml
from apps.lab.models import Draft, Exercise, PracticeRun, Submission
from apps.lab.selectors import exercise_get_visible, exercises_visible
from tests.apps.lab.test_submit import GOOD, HTMX

SLUG = "cumulative-average-memory"
DRAFT = '<span class="badge draft">Draft</span>'


def _student_endpoints(client) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """The status of the exercise page and of each endpoint a student posts to."""
    got = {"page": client.get(reverse("lab:exercise", args=[SLUG])).status_code}
    for name in ("lab:submit", "lab:practice-create", "lab:draft"):
        got[name] = client.post(reverse(name, args=[SLUG]), {"code": GOOD}, headers=HTMX).status_code
    return got


@pytest.mark.parametrize("hidden_by", ["exercise", "concept"])
def test_every_student_endpoint_of_a_hidden_exercise_is_a_404(  # type: ignore[no-untyped-def]
    client, synced_course, student, instructor, sent, hidden_by
) -> None:
    if hidden_by == "exercise":
        Exercise.objects.filter(slug=SLUG).update(published=False)
    else:  # a published exercise inside a draft concept is hidden too
        Concept.objects.filter(exercises__slug=SLUG).update(published=False)
    client.force_login(student)
    assert _student_endpoints(client) == {
        "page": 404,
        "lab:submit": 404,
        "lab:practice-create": 404,
        "lab:draft": 404,
    }
    assert not Submission.objects.exists() and not PracticeRun.objects.exists() and not Draft.objects.exists()
    assert sent == []
    with pytest.raises(Exercise.DoesNotExist):
        exercise_get_visible(slug=SLUG, user=student)

    client.force_login(instructor)  # the instructor sees it, and why students do not
    html = client.get(reverse("lab:exercise", args=[SLUG])).content.decode()
    if hidden_by == "exercise":
        assert f"{DRAFT}</h1>" in html
    else:
        assert f"{DRAFT}</h1>" not in html and "its concept is a draft" in html
    assert exercise_get_visible(slug=SLUG, user=instructor).slug == SLUG


def test_a_published_exercise_in_a_published_concept_is_open_to_students(  # type: ignore[no-untyped-def]
    client, synced_course, student, sent
) -> None:
    client.force_login(student)
    assert _student_endpoints(client) == {
        "page": 200,
        "lab:submit": 200,
        "lab:practice-create": 200,
        "lab:draft": 204,
    }
    html = client.get(reverse("lab:exercise", args=[SLUG])).content.decode()
    assert DRAFT not in html and "its concept is a draft" not in html


def test_an_exercise_outside_any_concept_follows_its_own_state(synced_course, student) -> None:  # type: ignore[no-untyped-def]
    Exercise.objects.filter(slug=SLUG).update(concept=None)
    assert SLUG in {e.slug for e in exercises_visible(user=student)}
    Exercise.objects.filter(slug=SLUG).update(published=False)
    assert SLUG not in {e.slug for e in exercises_visible(user=student)}


def _form(slug: str, **fields: str) -> dict[str, str]:
    spec = dict(Exercise.objects.get(slug=SLUG).spec)
    data = yaml.safe_load(spec_yaml(spec)) | {"slug": slug, "title": "Running mean"}
    return {"spec": yaml.safe_dump(data, sort_keys=False), "statement": spec["statement"],
            "starter": spec["starter"], "solution": spec["solution"], **fields}  # fmt: skip


def test_an_exercise_written_in_the_browser_is_a_draft_until_published(  # type: ignore[no-untyped-def]
    client, synced_course, student, instructor, sent
) -> None:
    client.force_login(instructor)
    assert 'name="published" type="checkbox">' in client.get(reverse("lab:exercise-new")).content.decode()
    assert client.post(reverse("lab:exercise-new"), _form("running-mean")).status_code == 302
    assert not Exercise.objects.get(slug="running-mean").published  # new: a draft
    edit = reverse("lab:exercise-edit", args=["running-mean"])
    html = client.get(edit).content.decode()
    assert f"{DRAFT}</h1>" in html and "A draft: students cannot see it yet." in html
    client.force_login(student)
    assert client.get(reverse("lab:exercise", args=["running-mean"])).status_code == 404

    client.force_login(instructor)
    assert client.post(edit, _form("running-mean", published="on")).status_code == 302  # the box, ticked
    assert Exercise.objects.get(slug="running-mean").published
    html = client.get(edit).content.decode()
    assert 'name="published" type="checkbox" checked>' in html and "Unpublish</button>" in html
    client.force_login(student)  # outside any concept, so its own state decides
    assert client.get(reverse("lab:exercise", args=["running-mean"])).status_code == 200

    client.force_login(instructor)
    publish = reverse("lab:exercise-publish", args=["running-mean"])
    assert client.post(publish, {"published": "0"})["Location"] == edit  # one click, back to the editor
    assert not Exercise.objects.get(slug="running-mean").published
    client.post(publish, {"published": "1"})
    assert Exercise.objects.get(slug="running-mean").published
    assert client.get(publish).status_code == 405
    client.force_login(student)
    assert client.post(publish, {"published": "0"}).status_code == 404  # instructors only
    assert Exercise.objects.get(slug="running-mean").published
