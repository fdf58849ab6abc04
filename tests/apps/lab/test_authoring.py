"""Writing an exercise in the browser: the grader's rules decide what is saved; the preview renders math."""

from __future__ import annotations

import yaml
from django.urls import reverse

from apps.lab.authoring import spec_yaml
from apps.lab.models import Exercise
from tests.support.factories import user_create


def _form_from(source: str, **changes: object) -> dict[str, str]:
    """The fields of an existing exercise, as the edit form holds them, with ``changes`` to its spec."""
    spec = dict(Exercise.objects.get(slug=source).spec)
    data = yaml.safe_load(spec_yaml(spec)) | changes
    return {
        "spec": yaml.safe_dump(data, sort_keys=False),
        "statement": spec["statement"],
        "starter": spec["starter"],
        "solution": spec["solution"],
    }


def test_an_instructor_creates_an_exercise_that_the_grader_accepts(client, synced_course) -> None:  # type: ignore[no-untyped-def]
    client.force_login(user_create(username="prof", role="instructor"))
    assert (
        "slug: my-exercise" in client.get(reverse("lab:exercise-new")).content.decode()
    )  # a template to start
    form = _form_from("cumulative-average-memory", slug="running-mean", title="Running mean")
    response = client.post(reverse("lab:exercise-new"), form)
    assert response.status_code == 302 and response["Location"] == reverse(
        "lab:validate", args=["running-mean"]
    )
    created = Exercise.objects.get(slug="running-mean")
    assert created.title == "Running mean" and created.spec["wrong"] and created.starter == form["starter"]
    validation = created.validations.get()  # "Save and validate" started the validation on a worker
    assert validation.status == "queued"


def test_the_graders_complaints_are_shown_and_nothing_is_saved(client, synced_course) -> None:  # type: ignore[no-untyped-def]
    client.force_login(user_create(username="prof", role="instructor"))
    cases = [
        ({"slug": "bad", "checks": [{"id": "speed", "points": 1}]}, "needs an id among"),
        ({"slug": "bad", "state": {"k": ["d"]}}, "differs from the model"),
        ({"slug": "cumulative-average-memory"}, "exists already"),
    ]
    for changes, complaint in cases:
        response = client.post(
            reverse("lab:exercise-new"), _form_from("cumulative-average-memory", **changes)
        )
        assert response.status_code == 400 and complaint in response.content.decode(), complaint
    broken = {"spec": "slug: [unclosed", "statement": "", "starter": "", "solution": ""}
    response = client.post(reverse("lab:exercise-new"), broken)
    assert "not valid YAML on line 1" in response.content.decode()
    assert not Exercise.objects.filter(slug="bad").exists()


def test_the_preview_renders_markdown_with_math_markup(client, db) -> None:  # type: ignore[no-untyped-def]
    client.force_login(user_create(username="prof", role="instructor"))
    html = client.post(
        reverse("lab:preview"), {"statement": "# Title\n\n$x^2$\n\n# Later\n"}
    ).content.decode()
    # the page has its own H1: the statement's leading one is dropped, a later one becomes an H2
    assert (
        "<h1>" not in html
        and "Title" not in html
        and "<h2>Later</h2>" in html
        and 'class="arithmatex"' in html
    )


def test_the_editor_sets_a_deadline_and_refuses_a_bad_one(client, synced_course) -> None:  # type: ignore[no-untyped-def]
    client.force_login(user_create(username="prof", role="instructor"))
    url = reverse("lab:exercise-edit", args=["cumulative-average-memory"])
    form = _form_from("cumulative-average-memory")
    assert client.post(url, form | {"deadline": "next friday"}).status_code == 400
    assert client.post(url, form | {"deadline": "2026-12-01T23:59"}).status_code == 302
    deadline = Exercise.objects.get(slug="cumulative-average-memory").deadline
    assert deadline is not None and (deadline.year, deadline.month, deadline.day) == (2026, 12, 1)
    assert 'value="2026-12-01T23:59"' in client.get(url).content.decode()
