"""A student in a real headless Chromium: log in, answer the seed question, write a solution in the editor,
submit, and see the verdict appear without a page reload — graded by a real Celery worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection

from tests.apps.lab.test_grading_integration import HONEST
from tests.support.worker import embedded_worker

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


@pytest.mark.django_db(transaction=True)
def test_student_answers_and_gets_a_live_verdict(
    page, live_server, student, synced_course, tmp_path: Path, artifacts: Path
) -> None:  # type: ignore[no-untyped-def]
    with embedded_worker(tmp_path, f"sqlite:///{connection.settings_dict['NAME']}"):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", student.username)
        page.fill("#id_password", "pw-for-tests")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")

        page.goto(f"{live_server.url}/concepts/general-recurrent-formula/")
        page.wait_for_selector(".katex")  # the vendored KaTeX rendered the formulas
        question = page.locator("#question-step-100-needs-history")
        question.get_by_label("False").check()
        question.get_by_role("button", name="Check answer").click()
        page.wait_for_selector("#question-step-100-needs-history .verdict.passed")
        assert "the past is summarised" in page.inner_text("#question-step-100-needs-history")
        page.screenshot(path=str(artifacts / "concept-answered.png"), full_page=True)

        page.goto(f"{live_server.url}/exercises/cumulative-average-memory/")
        page.wait_for_selector(".cm-editor")  # CodeMirror replaced the textarea
        page.evaluate("window.__sameDocument = true")
        page.evaluate("([src]) => window.memlabEditor.setValue('#id_code', src)", [HONEST])
        page.click(".cm-content")
        page.keyboard.press("Control+End")
        page.keyboard.type("\n# typed in the browser\n")
        page.get_by_role("button", name="Submit").click()
        page.wait_for_selector("#submission-result [data-verdict]", timeout=90_000)

        assert page.evaluate("window.__sameDocument") is True  # no reload happened
        assert page.get_attribute("#submission-result [data-verdict]", "data-verdict") == "passed"
        assert "recurrence" in page.inner_text("#submission-result")
        page.screenshot(path=str(artifacts / "exercise-passed.png"), full_page=True)
