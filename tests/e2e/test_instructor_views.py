"""Instructor views for a course of hundreds (issue 19, item 6), in a real Chromium at 1280×900 and 390×844: the
gradebook filters by student, column and status as one types or picks (htmx, the URL follows), sorts by a column
heading, pages past 50 students; a student's name opens their page (every submission, its verdict and its code);
an exercise's analytics show its pass rate, the check that fails most and the score distribution as a chart.
Nothing scrolls sideways."""

from __future__ import annotations

import re

import pytest

from apps.lab.models import Exercise
from tests.e2e.test_layout import EXERCISE, VIEWPORTS, Browsing, PageKind, browsing, overflow, site, viewport
from tests.support.factories import user_create
from tests.support.graded import Graded, graded

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]
__all__ = ["browsing", "graded", "site", "viewport"]  # the fixtures this module borrows

COLUMN = f"exercise:{EXERCISE}"


def _fits(page, viewport: str) -> None:  # type: ignore[no-untyped-def]
    measured = overflow(page)
    assert measured["scrollWidth"] <= VIEWPORTS[viewport]["width"], measured


def _matched(page, n: int) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector(f'#gradebook-results [data-matched="{n}"]')


@pytest.mark.django_db(transaction=True)
def test_gradebook_student_page_and_exercise_analytics(
    browsing: Browsing, viewport: str, graded: Graded
) -> None:
    exercise = Exercise.objects.get(slug=EXERCISE)
    graded(user_create(username="ada", first_name="Ada", last_name="Lovelace"), exercise, 1.0)
    for i in range(54):  # with the site's student (one failed run) and ada: 56 students, two pages
        student = user_create(username=f"s{i:02d}", last_name=f"Student{i:02d}")
        if i % 3 == 0:
            graded(student, exercise, i / 100, failing=("state_size",))

    page = browsing.visit(PageKind("gradebook", "instructor", "/gradebook/", "table.gradebook"))
    _matched(page, 56)
    assert page.locator("tbody tr").count() == 50 and page.locator("nav.pager a[rel=next]").is_visible()
    _fits(page, viewport)

    page.fill("#gradebook-q", "lovelace")  # as one types: the table is swapped, the URL follows
    _matched(page, 1)
    assert page.url.endswith("/gradebook/?q=lovelace")  # the short link: defaults left out
    assert page.locator("tbody tr").first.get_attribute("data-student") == "ada"
    page.fill("#gradebook-q", "")
    _matched(page, 56)

    page.select_option("select[name=show]", COLUMN)
    page.select_option("select[name=status]", "attempted")
    _matched(page, 19)  # 18 of the 54 and the site's student; ada passed
    assert page.locator("thead th").count() == 3  # student, the exercise, total
    assert {r.get_attribute("data-status") for r in page.locator("tbody tr").all()} == {"attempted"}

    page.locator(f'thead a[data-sort="{COLUMN}"]').click()  # a plain link: sorted, filters kept
    page.wait_for_selector(f'th[aria-sort="descending"] a[data-sort="{COLUMN}"]')
    _matched(page, 19)
    browsing.screenshot(page, "gradebook-filtered")
    top = page.locator("tbody tr").first
    assert top.get_attribute("data-student") == "s51" and "51" in top.locator("td").first.inner_text()
    _fits(page, viewport)

    top.locator("th a").click()  # the student's own page
    page.wait_for_selector("main h1")
    assert page.locator("main h1").inner_text() == "Student51"
    row = page.locator(f'table.student-exercises tr[data-slug="{EXERCISE}"]')
    assert row.get_attribute("data-status") == "attempted" and "51" in row.inner_text()
    _fits(page, viewport)
    browsing.screenshot(page, "student-record")
    page.locator(f'details[data-slug="{EXERCISE}"]').get_by_role("link", name="code and report").click()
    page.wait_for_selector(".cm-editor")  # the run page, with the submitted code
    assert re.search(r"by Student51", page.locator("main h1").inner_text())
    assert "x = 0.51" in page.locator(".submitted-code .cm-content").inner_text()

    page = browsing.visit(PageKind("analytics", "instructor", "/analytics/", "main h1"))
    page.locator(f'tr[data-slug="{EXERCISE}"] a').click()
    page.wait_for_selector("[data-stat=pass-rate]")
    assert page.locator("[data-stat=students]").inner_text() == "20"
    assert page.locator("[data-stat=pass-rate]").inner_text() == "5%"  # ada, of 20
    assert page.locator("[data-stat=most-failed]").inner_text() == "state_size"
    chart = page.locator("figure.chart img")
    chart.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=chart.element_handle())
    _fits(page, viewport)
    browsing.screenshot(page, "exercise-analytics")
