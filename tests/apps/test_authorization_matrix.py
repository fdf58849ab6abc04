"""Every URL of the app against every kind of visitor: anonymous, student A (the owner), student B, instructor.

The list of URL names is read from the URLconf, so a new view fails this test until its row is added here: no
page can ship without a decision about who may see it.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from apps.lab import services
from apps.lab.models import Exercise, PracticeRun
from tests.support.factories import user_create

REPORT = {
    "schema": 1, "exercise": "cumulative-average-memory", "verdict": "failed", "score": 0.0,
    "checks": [{"id": "correctness", "passed": False, "points": 0, "max_points": 40, "message": "A's secret",
                "counterexample": None, "hidden": False,
                "plot": {"kind": "cost", "title": "t", "x_label": "x", "y_label": "y", "log": False,
                         "series": [{"name": "s", "x": [1.0, 2.0], "y": [1.0, 2.0], "style": "solid"}]}}],
    "sandbox": {"layers": [], "cpu_s": 0.0, "wall_s": 0.0, "max_rss_kb": 0},
    "stdout": "", "stderr": "", "grader_version": "t", "submission_sha256": "x", "timings": {},
}  # fmt: skip
LOGIN = "login"  # the response is a redirect to the login page


def url_names() -> set[str]:
    def walk(patterns: list[Any], prefix: str = "") -> set[str]:
        names: set[str] = set()
        for p in patterns:
            if isinstance(p, URLResolver):
                if p.namespace != "admin":  # Django's admin has its own staff-only checks
                    names |= walk(p.url_patterns, f"{prefix}{p.namespace}:" if p.namespace else prefix)
            elif isinstance(p, URLPattern) and p.name:
                names.add(prefix + p.name)
        return names

    return walk(get_resolver().url_patterns)


@pytest.fixture
def world(synced_course, monkeypatch):  # type: ignore[no-untyped-def]
    from config.celery import app

    monkeypatch.setattr(app, "send_task", lambda *a, **k: None)
    a, b = user_create(username="student-a"), user_create(username="student-b")
    prof = user_create(username="prof", role="instructor")
    exercise = Exercise.objects.get(slug="cumulative-average-memory")
    run = services.submission_create(user=a, exercise=exercise, source="A's secret code = 1\n").runs.get()
    services.run_finish(run=services.run_claim(run_id=run.pk), report=REPORT)
    practice = PracticeRun.objects.create(user=a, exercise=exercise, source="A's secret practice = 1\n")
    return {"a": a, "b": b, "prof": prof, "run": run, "exercise": exercise, "practice": practice}


# url name -> (method, args, expected status per visitor: anonymous, A, B, instructor)
def matrix(world: dict[str, Any]) -> dict[str, tuple[str, list[Any], dict[str, int | str]]]:
    run, slug = world["run"].pk, world["exercise"].slug
    everyone_logged_in = {"anon": LOGIN, "a": 200, "b": 200, "prof": 200}
    owner_or_instructor = {"anon": LOGIN, "a": 200, "b": 404, "prof": 200}
    instructor_only = {"anon": LOGIN, "a": 404, "b": 404, "prof": 200}
    return {
        "healthz": ("get", [], {"anon": 200, "a": 200, "b": 200, "prof": 200}),
        "health": (
            "get",
            [],
            {"anon": 404, "a": 404, "b": 404, "prof": 503},
        ),  # no worker in this test: degraded
        "accounts:login": ("get", [], {"anon": 200, "a": 200, "b": 200, "prof": 200}),
        "accounts:logout": ("post", [], {"anon": 302, "a": 302, "b": 302, "prof": 302}),
        "accounts:signup": ("get", [], {"anon": 200, "a": 302, "b": 302, "prof": 302}),
        "course:home": ("get", [], everyone_logged_in),
        "course:map": ("get", [], everyone_logged_in),
        "course:concept": ("get", ["general-recurrent-formula"], everyone_logged_in),
        "course:concept-figure": ("get", ["general-recurrent-formula", 0], everyone_logged_in),
        "course:concept-new": ("get", [], instructor_only),
        "course:concept-edit": ("get", ["general-recurrent-formula"], instructor_only),
        "course:concept-publish": (
            "post",
            ["general-recurrent-formula"],
            {"anon": LOGIN, "a": 404, "b": 404, "prof": 302},
        ),
        "course:question-new": ("get", [], instructor_only),
        "course:question-edit": ("get", ["step-100-needs-history"], instructor_only),
        "course:preview": ("post", [], instructor_only),
        "quiz:answer": ("post", ["step-100-needs-history"], {"anon": LOGIN, "a": 400, "b": 400, "prof": 400}),
        "lab:exercise": ("get", [slug], everyone_logged_in),
        "lab:submit": ("post", [slug], {"anon": LOGIN, "a": 400, "b": 400, "prof": 400}),
        "lab:regrade": ("get", [slug], instructor_only),
        "lab:validate": ("get", [slug], instructor_only),
        "lab:submissions": ("get", [slug], instructor_only),
        "lab:exercise-new": ("get", [], instructor_only),
        "lab:exercise-edit": ("get", [slug], instructor_only),
        "lab:exercise-publish": ("post", [slug], {"anon": LOGIN, "a": 404, "b": 404, "prof": 302}),
        "lab:preview": ("post", [], instructor_only),
        "lab:run": ("get", [run], owner_or_instructor),
        "lab:run-status": ("get", [run], owner_or_instructor),
        "lab:run-plot": ("get", [run, "correctness"], owner_or_instructor),
        "lab:submission-diff": ("get", [world["run"].submission_id], owner_or_instructor),
        "lab:practice-create": ("post", [slug], {"anon": LOGIN, "a": 400, "b": 400, "prof": 400}),
        "lab:practice": ("get", [world["practice"].pk], {"anon": LOGIN, "a": 200, "b": 404, "prof": 404}),
        "lab:draft": ("post", [slug], {"anon": LOGIN, "a": 204, "b": 204, "prof": 204}),
        "grades:gradebook": ("get", [], instructor_only),
        "grades:export": ("get", [], instructor_only),
        "grades:analytics": ("get", [], instructor_only),
        "grades:student": ("get", [world["a"].pk], instructor_only),
        "grades:exercise": ("get", [slug], instructor_only),
        "grades:exercise-scores": ("get", [slug], instructor_only),
    }


def test_every_url_has_a_row(world) -> None:  # type: ignore[no-untyped-def]
    assert url_names() == set(matrix(world)), "add the new URL to the authorization matrix"


@pytest.mark.parametrize("visitor", ["anon", "a", "b", "prof"])
def test_each_visitor_gets_exactly_what_the_matrix_says(client, world, visitor) -> None:  # type: ignore[no-untyped-def]
    leaks = []
    for name, (method, args, expected) in matrix(world).items():
        if visitor != "anon":
            client.force_login(world[visitor])
        else:
            client.logout()
        url = reverse(name, args=args)
        response = getattr(client, method)(url, {}) if method == "post" else client.get(url)
        want = expected[visitor]
        got: int | str = response.status_code
        if (
            want == LOGIN
            and response.status_code == 302
            and reverse("accounts:login") in response["Location"]
        ):
            got = LOGIN
        if got != want:
            leaks.append(f"{name} as {visitor}: {got} (expected {want})")
        if visitor == "b" and response.status_code == 200:
            assert (
                "A&#x27;s secret" not in response.content.decode()
                and "A's secret" not in response.content.decode()
            )
    assert not leaks, leaks
