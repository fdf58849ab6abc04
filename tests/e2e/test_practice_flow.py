"""Practice without cost, in a real Chromium at desktop and phone sizes: Run on examples shows the checks it ran
and charges no attempt; the draft survives a reload; Reset asks first; a syntax error keeps Python's layout."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection

from apps.lab.models import Draft, PracticeRun, Submission
from tests.apps.lab.test_grading_integration import HONEST
from tests.support.worker import embedded_worker

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def _login(page, base: str, student) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", student.username)
    page.fill("#id_password", "pw-for-tests")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _set_code(page, source: str) -> None:  # type: ignore[no-untyped-def]
    page.evaluate("([src]) => window.memlabEditor.setValue('#id_code', src)", [source])


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.django_db(transaction=True)
def test_practice_drafts_reset_and_syntax_errors(
    browser, live_server, student, synced_course, tmp_path: Path, artifacts: Path, size: str
) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=SIZES[size])
    page = context.new_page()
    exercise_url = f"{live_server.url}/exercises/cumulative-average-memory/"
    with embedded_worker(tmp_path, f"sqlite:///{connection.settings_dict['NAME']}"):
        _login(page, live_server.url, student)
        page.goto(exercise_url)
        page.wait_for_selector(".cm-editor")

        _set_code(page, HONEST)  # run on the examples: the panel shows what ran, no attempt is used
        page.get_by_role("button", name="Run on examples").click()
        page.wait_for_selector("[data-practice-verdict]", timeout=90_000)
        assert page.get_attribute("[data-practice-verdict]", "data-practice-verdict") == "passed"
        panel = page.inner_text("#submission-result")
        assert "not graded, no attempt used" in panel and "run when you submit" in panel
        assert PracticeRun.objects.count() == 1 and not Submission.objects.exists()
        page.screenshot(path=str(artifacts / f"practice-{size}.png"), full_page=True)

        _set_code(page, "# a draft typed before a reload\n" + HONEST)  # the draft is saved as one types
        for _ in range(50):
            if Draft.objects.filter(source__startswith="# a draft typed").exists():
                break
            page.wait_for_timeout(100)
        page.reload()
        page.wait_for_selector(".cm-editor")
        assert page.input_value("#id_code").startswith("# a draft typed before a reload")

        page.once("dialog", lambda dialog: dialog.dismiss())  # Reset asks; dismissed, nothing changes
        page.get_by_role("button", name="Reset to starter code").click()
        assert page.input_value("#id_code").startswith("# a draft typed before a reload")
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Reset to starter code").click()
        assert not page.input_value("#id_code").startswith("# a draft typed")

        _set_code(page, "import torch\n\n\ndef update(mem, k, v)\n    return mem\n")
        page.get_by_role("button", name="Run on examples").click()
        detail = page.wait_for_selector("#submit-feedback .error-detail")
        assert "def update(mem, k, v)" in detail.inner_text() and "^" in detail.inner_text()
        assert "SyntaxError on line 4" in page.inner_text("#submit-feedback")
        marked = page.wait_for_selector(".cm-lint-marker-error")  # the line is marked in the editor's gutter
        line_top = page.evaluate(
            "() => [...document.querySelectorAll('.cm-line')][3].getBoundingClientRect().top"
        )
        marker_top = marked.bounding_box()["y"]  # type: ignore[index]
        assert abs(marker_top - line_top) < 12  # beside line 4
        page.screenshot(path=str(artifacts / f"syntax-error-{size}.png"), full_page=True)
    context.close()
