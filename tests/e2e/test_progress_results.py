"""Progress where students look and results students understand (issue 19, items 4 and 5), in a real headless
Chromium at 1280×900 and 390×844.

A student submits to the cumulative-average exercise from its page; the test stores each run's report as a
worker would (the grader's output is not what is tested here, how the site shows it is), while the page polls.
The list of submissions must show each verdict without a reload; the result must mark a failed check ✗ and
never ✓, render `code` and Mem_{i-1}, print the counterexample once and name the verdict in words; the run page
shows the code and links to its diff; after the pass, the exercise counts on its own concept everywhere."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from apps.lab import services
from apps.lab.models import Exercise, GradingRun

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
EXERCISE = "cumulative-average-memory"
COUNTEREXAMPLE = 'With d = 1, after k_0 = [0], v_0 = [0]; k_1 = [0], v_1 = [1], your memory\'s "v" is [1] but it should be [0.5].'


def _report(verdict: str, checks: list[dict[str, Any]], score: float) -> dict[str, Any]:
    return {
        "schema": 1, "exercise": EXERCISE, "verdict": verdict, "score": score, "checks": checks,
        "sandbox": {"layers": ["rlimits"], "cpu_s": 0.05, "wall_s": 0.07, "max_rss_kb": 1},
        "stdout": "", "stderr": "", "grader_version": "t", "submission_sha256": "x", "timings": {},
    }  # fmt: skip


def _check(
    check_id: str, passed: bool, points: float, max_points: float, message: str, **extra: Any
) -> dict[str, Any]:
    return {"id": check_id, "passed": passed, "points": points, "max_points": max_points, "message": message,
            "counterexample": None, "hidden": False, **extra}  # fmt: skip


# The shapes of real reports (fix-the-recurrence's wrong variants): the message quotes the counterexample, a
# property "passes" with 0 points while correctness fails, a cost is "not judged".
FAILED = _report(
    "runtime_error",
    [
        _check("interface", True, 10, 10, "Your file defines `init_memory`, `update` and `read`."),
        _check("correctness", False, 0, 40, f"Your memory differs from the reference at step 1. {COUNTEREXAMPLE} "
               "(The grader shrank the first failing case.)", counterexample={"text": COUNTEREXAMPLE, "step": 1}),
        _check("recurrence", True, 0, 25, "Mem_i depends only on Mem_{i-1} and (k_i, v_i). (No points yet: "
               "properties count once correctness passes.)"),
        _check("step_cost", False, 0, 10, "Not judged because the outputs are wrong (see correctness)."),
    ],
    0.1,
)  # fmt: skip
PASSED = _report(
    "passed", [_check("interface", True, 10, 10, "ok"), _check("correctness", True, 90, 90, "ok")], 1.0
)


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def student_page(browser, live_server, synced_course, student, viewport, monkeypatch) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """A signed-in student's page at the viewport; grading tasks are not sent (the test finishes each run)."""
    from config.celery import app

    monkeypatch.setattr(app, "send_task", lambda *a, **k: None)
    context = browser.new_context(viewport=VIEWPORTS[viewport], has_touch=viewport == "phone")
    client = Client()
    client.force_login(student)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    yield context.new_page()
    context.close()


def _submit_and_grade(page: Any, student: Any, report: dict[str, Any], count: int) -> GradingRun:
    """Submit the editor's code with htmx, wait for the queued run, then finish it as a worker would."""
    page.get_by_role("button", name="Submit", exact=True).click()
    page.wait_for_selector(f"#submission-history li:nth-child({count})[data-status=queued]")
    run = GradingRun.objects.filter(submission__user=student).latest("created_at")
    assert page.locator("#submission-history li").first.get_attribute("data-run") == str(run.pk)
    claimed = services.run_claim(run_id=run.pk)
    assert claimed is not None and services.run_finish(run=claimed, report=report)
    return run


def _no_sideways_scroll(page: Any, viewport: str) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[viewport]["width"])


def _mark(page: Any, check_id: str) -> str:
    return str(page.inner_text(f"#submission-result [data-check={check_id}] .check-mark"))


@pytest.mark.django_db(transaction=True)
def test_results_read_clearly_and_progress_follows_the_concept(
    student_page: Any, live_server, student, viewport: str, artifacts: Path
) -> None:  # type: ignore[no-untyped-def]
    page, url = student_page, live_server.url

    # the exercise sits under its own concept
    page.goto(f"{url}/exercises/{EXERCISE}/")
    page.wait_for_selector(".cm-editor")
    crumbs = page.inner_text("nav.crumbs")
    assert "Cumulative Average Memory" in crumbs and "General Recurrent" not in crumbs
    page.evaluate("window.__sameDocument = true")

    # a failed attempt: the verdict reaches the result and the list without a reload
    first = _submit_and_grade(page, student, FAILED, 1)
    page.wait_for_selector(f"#submission-history li[data-run='{first.pk}'][data-status=finished]")
    assert page.evaluate("window.__sameDocument") is True
    assert page.inner_text(f"#submission-history li[data-run='{first.pk}'] .badge") == "Runtime error"
    badge = page.locator("#submission-result [data-verdict]")
    assert badge.inner_text() == "Runtime error" and "RUNTIME" not in page.inner_text("#submission-result")
    assert _mark(page, "interface") == "✓"
    assert _mark(page, "correctness") == "✗"
    for check_id in ("correctness", "recurrence", "step_cost"):  # failed, passed with 0 points, not judged
        assert "✓" not in page.inner_text(f"#submission-result [data-check={check_id}]"), check_id
    assert "not judged" in page.inner_text("#submission-result [data-check=step_cost]")
    recurrence = page.inner_text("#submission-result [data-check=recurrence]")
    assert (
        "passed, no points" in recurrence
        and "No points yet: properties count once correctness passes." in recurrence
    )
    assert (
        page.inner_text("#submission-result [data-check=interface] .message code >> nth=0") == "init_memory"
    )
    page.wait_for_selector("#submission-result [data-check=recurrence] .message .katex")  # Mem_{i-1} as math
    assert "`" not in page.inner_text("#submission-result .checks")
    assert page.inner_text("#submission-result").count("should be [0.5]") == 1  # the counterexample once
    page.screenshot(path=str(artifacts / f"results-failed-{viewport}.png"), full_page=True)

    # a second attempt that passes: the list updates again, still without a reload
    second = _submit_and_grade(page, student, PASSED, 1)
    page.wait_for_selector(f"#submission-history li[data-run='{second.pk}'] [data-verdict=passed]")
    assert page.evaluate("window.__sameDocument") is True
    assert page.locator("#submission-history li").count() == 2

    # the run page shows the code that was graded, highlighted, and the way to what changed
    page.goto(f"{url}/runs/{second.pk}/")
    page.wait_for_selector(".submitted-code .cm-editor .cm-content")
    code = page.inner_text(".submitted-code .cm-content")
    assert (
        "def update" in code and page.locator(".submitted-code .cm-content[aria-readonly=true]").count() == 1
    )
    assert page.locator(".submitted-code .cm-editor span[class]").count() > 0  # syntax-highlighted tokens
    assert _no_sideways_scroll(page, viewport)
    page.click("[data-diff-link]")
    page.wait_for_url(f"**/submissions/{second.submission_id}/diff/")
    assert page.locator("main h1").inner_text().startswith("What changed")
    page.goto(f"{url}/runs/{first.pk}/")
    page.wait_for_selector(".submitted-code .cm-editor")
    assert "nothing earlier to compare with" in page.inner_text(".submitted-code")

    # progress: the home page's list, the concept's "Practise it", the map
    Exercise.objects.filter(slug=EXERCISE).update(deadline=datetime(2031, 3, 4, 12, 0, tzinfo=UTC))
    page.goto(f"{url}/")
    row = page.locator(f".exercise-row[data-slug='{EXERCISE}']")
    assert row.get_attribute("data-status") == "passed" and "Passed" in row.inner_text()
    assert "best 100 %" in row.inner_text() and "2031" in str(row.locator("time").get_attribute("datetime"))
    assert page.locator(".exercise-row[data-slug='ema-memory']").get_attribute("data-status") == "new"
    assert "Not started" in page.inner_text(".exercise-row[data-slug='ema-memory']")
    assert _no_sideways_scroll(page, viewport)
    slugs = page.eval_on_selector_all(".exercise-list .exercise-row", "rows => rows.map(r => r.dataset.slug)")
    assert slugs.index("full-kv-cache-memory") < slugs.index(EXERCISE) < slugs.index("delta-rule-memory")
    page.screenshot(path=str(artifacts / f"home-progress-{viewport}.png"), full_page=True)

    page.goto(f"{url}/concepts/cumulative-average/")
    practise = page.locator("section.practise")
    assert practise.locator(f"[data-slug='{EXERCISE}']").get_attribute("data-status") == "passed"
    assert practise.locator("[data-slug='fix-the-recurrence']").count() == 1

    page.goto(f"{url}/map/")
    node = page.locator(".course-map a.node[data-slug='cumulative-average']")
    assert node.get_attribute("data-status") == "started"
    assert "exercises 1/2" in node.locator("text.count").text_content()
    other = page.locator(
        ".course-map a.node[data-slug='general-recurrent-formula'] text.count"
    ).text_content()
    assert "exercises" not in other  # it lists no exercise now
    assert _no_sideways_scroll(page, viewport)
    page.screenshot(path=str(artifacts / f"map-progress-{viewport}.png"), full_page=True)
    assert Exercise.objects.get(slug=EXERCISE).concept.slug == "cumulative-average"  # type: ignore[union-attr]
