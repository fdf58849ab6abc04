"""An instructor in a real headless Chromium: write an exercise in the browser, validate it on a real Celery
worker (the page polls until the mutation score appears), and export the gradebook as CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml
from django.db import connection

from apps.lab.authoring import spec_yaml
from apps.lab.models import Exercise
from tests.support.worker import embedded_worker

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


@pytest.mark.django_db(transaction=True)
def test_instructor_creates_validates_and_exports(
    page, live_server, instructor, synced_course, tmp_path: Path, artifacts: Path
) -> None:  # type: ignore[no-untyped-def]
    source = Exercise.objects.get(slug="cumulative-average-memory").spec
    spec = yaml.safe_load(spec_yaml(source)) | {
        "slug": "running-mean",
        "title": "Running mean, written in the browser",
    }
    with embedded_worker(tmp_path, f"sqlite:///{connection.settings_dict['NAME']}"):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", instructor.username)
        page.fill("#id_password", "pw-for-tests")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")

        page.goto(f"{live_server.url}/exercises/new/")
        page.fill("#id_spec", yaml.safe_dump(spec, sort_keys=False))
        page.fill("#id_statement", source["statement"])
        page.wait_for_selector("#preview .katex")  # the live preview rendered the statement's math
        page.fill("#id_starter", source["starter"])
        page.fill("#id_solution", source["solution"])
        page.check("#id_published")  # a new exercise starts as a draft, which the gradebook leaves out
        page.screenshot(path=str(artifacts / "instructor-new-exercise.png"), full_page=True)
        page.get_by_role("button", name="Save and validate").click()
        page.wait_for_url(f"{live_server.url}/exercises/running-mean/validate/")

        # saving started the validation on the worker: its result arrives without another click
        page.wait_for_selector("[data-mutation-score]", timeout=120_000)
        assert page.inner_text("[data-mutation-score]") == "100 %"
        assert page.get_attribute(".validation", "data-status") == "finished"
        page.screenshot(path=str(artifacts / "instructor-validated.png"), full_page=True)

        page.goto(f"{live_server.url}/gradebook/")
        with page.expect_download() as download:
            page.get_by_role("link", name="Export CSV").click()
        saved = artifacts / "gradebook.csv"
        download.value.save_as(saved)
        header = next(csv.reader(saved.open(encoding="utf-8")))
        assert header[:4] == ["Student", "ID", "SIS User ID", "SIS Login ID"]
        assert any("running-mean" in column for column in header)
