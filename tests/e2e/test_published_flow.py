"""Draft and published (issue 19, item 6) in a real headless Chromium at 1280×900 and 390×844: a concept an
instructor writes in the browser starts as a draft, marked "Draft" for the instructor and a 404 for a student,
who does not see it on the home page or the course map either; once the instructor ticks Published, the student
sees it everywhere. The Draft badge passes axe (contrast included)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from apps.course.models import Concept
from tests.e2e.test_a11y import axe_violations, readable

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
SLUG = "a-drafted-idea"
TEXT = f"""---
slug: {SLUG}
title: A drafted idea
summary: Written in the browser, not yet for students.
position: 900
tags: []
learn_before: [general-recurrent-formula]
related: []
exercises: []
---
A memory that is still being written: $\\mathrm{{Mem}}_i = \\mathrm{{Mem}}_{{i-1}}$.
"""


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _signed_in(browser: Any, live_server: Any, user: Any, viewport: str) -> Any:
    """A browser context at the viewport with ``user``'s session cookie."""
    context = browser.new_context(viewport=VIEWPORTS[viewport], has_touch=viewport == "phone")
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    return context


@pytest.fixture
def pages(browser, live_server, synced_course, student, instructor, viewport) -> Iterator[tuple[Any, Any]]:  # type: ignore[no-untyped-def]
    """The instructor's page and the student's, side by side."""
    prof, alice = (_signed_in(browser, live_server, u, viewport) for u in (instructor, student))
    yield prof.new_page(), alice.new_page()
    prof.close()
    alice.close()


def _student_sees(page: Any, base: str) -> dict[str, bool]:
    """Where the student finds the concept: its page (not a 404), the home list, the map."""
    found = {"page": page.goto(f"{base}/concepts/{SLUG}/").status == 200}
    page.goto(f"{base}/")
    found["home"] = page.locator(f'a[href="/concepts/{SLUG}/"]').count() > 0
    page.goto(f"{base}/map/")
    found["map"] = page.locator(f'[data-slug="{SLUG}"]').count() > 0
    return found


@pytest.mark.django_db(transaction=True)
def test_a_concept_written_in_the_browser_is_a_draft_until_published(
    pages: tuple[Any, Any], live_server: Any, viewport: str
) -> None:
    prof, alice = pages
    base = live_server.url
    prof.goto(f"{base}/authoring/concepts/new/")
    assert not prof.is_checked("#id_published")  # a new concept starts as a draft
    prof.fill("#id_text", TEXT)
    prof.get_by_role("button", name="Save").click()
    prof.wait_for_url(f"{base}/concepts/{SLUG}/")
    assert prof.text_content("h1 .badge.draft") == "Draft"
    assert not Concept.objects.get(slug=SLUG).published
    found = {name: axe_violations(prof) for name in ("concept",)}
    prof.goto(f"{base}/")
    draft_row = prof.locator("li", has=prof.locator(f'a[href="/concepts/{SLUG}/"]'))
    assert draft_row.locator(".badge.draft").count() == 1  # the instructor's home list marks it
    found["home"] = axe_violations(prof)
    assert not any(found.values()), "".join(
        f"\n== {n} ({viewport}){readable(v)}" for n, v in found.items() if v
    )

    assert _student_sees(alice, base) == {"page": False, "home": False, "map": False}

    prof.goto(f"{base}/authoring/concepts/{SLUG}/")
    assert "A draft: students cannot see it yet." in prof.inner_text(".publish-state")
    box = prof.locator("label.checkbox").bounding_box()
    assert box is not None and (viewport == "desktop" or box["height"] >= 44)  # a tap target on a phone
    prof.check("#id_published")
    prof.get_by_role("button", name="Save", exact=True).click()
    prof.wait_for_url(f"{base}/concepts/{SLUG}/")
    assert prof.locator("h1 .badge.draft").count() == 0
    assert Concept.objects.get(slug=SLUG).published

    assert _student_sees(alice, base) == {"page": True, "home": True, "map": True}
    alice.goto(f"{base}/concepts/{SLUG}/")
    assert alice.inner_text("h1") == "A drafted idea"
    assert alice.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[viewport]["width"]
