"""Every page kind fits from a phone to a desktop (issue 19, item 1), in a real headless Chromium at 1280×900
and 390×844: no horizontal scroll, the exercise editor can be tapped and typed into on a phone, and the header's
and the exercise page's controls are tap-sized. With MEMLAB_SCREENSHOTS=1 each page is also saved under
docs/screenshots/ (the README shows a few).

The page list, the signed-in browser contexts and the stored run are helpers that test_a11y.py uses too."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from apps.lab import services
from apps.lab.models import Exercise, GradingRun

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CONCEPT = "general-recurrent-formula"  # has questions, display math and a formula-heavy body
EXERCISE = "cumulative-average-memory"
# saved under docs/screenshots by MEMLAB_SCREENSHOTS=1: one of each page kind here, and the instructor's views
# with a class of 56 by test_instructor_views
SHOWN_HERE = ("home", "map", "concept", "exercise", "run", "gradebook")
SHOWN = (*SHOWN_HERE, "gradebook-filtered", "student-record", "exercise-analytics")
TAP_PX = 44  # WCAG 2.5.5's target size, and Apple's and Google's guidance for touch targets

# A finished run as the worker stores it: a failed check with a counterexample and a plot, a passed one,
# and a long output line (each must fit or scroll inside its own box on a phone).
PLOT = {
    "kind": "cost",
    "title": "Work of update over the first n steps of one sequence",
    "x_label": "steps n",
    "y_label": "cost",
    "log": True,
    "series": [
        {"name": "tensor elements", "x": [64.0, 128.0, 256.0], "y": [10.0, 40.0, 160.0], "style": "solid"}
    ],
}
REPORT: dict[str, Any] = {
    "schema": 1,
    "exercise": EXERCISE,
    "verdict": "failed",
    "score": 0.4,
    "checks": [
        {
            "id": "interface",
            "passed": True,
            "points": 10,
            "max_points": 10,
            "message": "update and read exist.",
        },
        {
            "id": "recurrence",
            "passed": False,
            "points": 0,
            "max_points": 40,
            "message": "read(mem) after 3 steps differs from the reference: the memory is not Mem_i = f(k_i, v_i, Mem_{i-1}).",
            "counterexample": {
                "text": "keys = tensor([[0.1000, -0.2000, 0.3000, 0.4000, 0.5000, 0.6000, 0.7000, 0.8000]])  # a long line"
            },
            "hidden": False,
            "plot": PLOT,
        },
    ],
    "sandbox": {"layers": ["rlimits"], "cpu_s": 0.05, "wall_s": 0.07, "max_rss_kb": 1},
    "stdout": "step 3: mem = [0.2000, -0.1000, 0.4333, 0.5000, 0.6000, 0.7000, 0.8000, 0.9000, 1.0000, 1.1000]\n",
    "stderr": "",
    "grader_version": "t",
    "submission_sha256": "x",
    "timings": {},
}


@dataclass(frozen=True)
class Site:
    url: str
    student: Any
    instructor: Any
    run: GradingRun


@dataclass(frozen=True)
class PageKind:
    name: str
    who: str  # "anonymous", "student" or "instructor"
    path: str
    ready: str  # a selector present once the page's scripts have run


def page_kinds(site: Site) -> list[PageKind]:
    """One page of each kind a student or an instructor visits."""
    ex = f"/exercises/{EXERCISE}"
    return [
        PageKind("home", "student", "/", "main h1"),
        PageKind("map", "student", "/map/", ".course-map svg"),
        PageKind("concept", "student", f"/concepts/{CONCEPT}/", ".katex"),
        PageKind("exercise", "student", f"{ex}/", ".cm-editor"),
        PageKind("run", "student", f"/runs/{site.run.pk}/", "[data-verdict]"),
        PageKind("login", "anonymous", "/accounts/login/", "#id_username"),
        PageKind("signup", "anonymous", "/accounts/signup/", "#id_username"),
        PageKind("gradebook", "instructor", "/gradebook/", "table.gradebook"),
        PageKind("analytics", "instructor", "/analytics/", "main h1"),
        PageKind("exercise-analytics", "instructor", f"/analytics/exercises/{EXERCISE}/", "main h1"),
        PageKind("student-record", "instructor", f"/gradebook/students/{site.student.pk}/", "main h1"),
        PageKind("exercise-edit", "instructor", f"{ex}/edit/", "#preview .katex"),
        PageKind("concept-edit", "instructor", f"/authoring/concepts/{CONCEPT}/", "#preview .katex"),
        PageKind("validate", "instructor", f"{ex}/validate/", "main h1"),
        PageKind("submissions", "instructor", f"{ex}/submissions/", "main h1"),
    ]


@pytest.fixture
def site(live_server, synced_course, student, instructor, monkeypatch) -> Site:  # type: ignore[no-untyped-def]
    """The synced course, a student with one graded (failed) submission, and an instructor."""
    from config.celery import app

    monkeypatch.setattr(app, "send_task", lambda *a, **k: None)  # the run is finished by hand below
    exercise = Exercise.objects.get(slug=EXERCISE)
    source = Exercise.objects.get(slug=EXERCISE).starter
    run = services.submission_create(user=student, exercise=exercise, source=source).runs.get()
    claimed = services.run_claim(run_id=run.pk)
    assert claimed is not None and services.run_finish(run=claimed, report=REPORT)
    return Site(url=live_server.url, student=student, instructor=instructor, run=run)


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@dataclass
class Browsing:
    """Signed-in browser pages at one viewport, one context per role (opened on first use)."""

    browser: Any
    site: Site
    viewport: str
    contexts: dict[str, Any]

    def page_for(self, who: str) -> Any:
        if who not in self.contexts:
            phone = self.viewport == "phone"
            context = self.browser.new_context(viewport=VIEWPORTS[self.viewport], has_touch=phone)
            if who != "anonymous":
                client = Client()
                client.force_login(getattr(self.site, who))
                cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
                context.add_cookies(
                    [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": self.site.url}]
                )
            self.contexts[who] = (context, context.new_page())
        return self.contexts[who][1]

    def visit(self, kind: PageKind) -> Any:
        page = self.page_for(kind.who)
        response = page.goto(self.site.url + kind.path)
        assert response is not None and response.status == 200, (
            f"{kind.name}: HTTP {response and response.status}"
        )
        page.wait_for_selector(kind.ready, state="attached")
        page.evaluate("document.fonts.ready.then(() => true)")
        return page

    def screenshot(self, page: Any, name: str) -> None:
        if os.environ.get("MEMLAB_SCREENSHOTS") == "1" and name in SHOWN:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            # lazy plots drawn and the editors measured, as a reader sees the page
            page.wait_for_load_state("networkidle")
            # an editor below the fold measures its lines only once scrolled to (a reader scrolls there)
            page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
            page.wait_for_timeout(300)
            page.evaluate("window.scrollTo(0, 0)")
            page.wait_for_timeout(300)
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{self.viewport}.png"), full_page=True)


@pytest.fixture
def browsing(browser, site: Site, viewport: str) -> Iterator[Browsing]:  # type: ignore[no-untyped-def]
    state = Browsing(browser=browser, site=site, viewport=viewport, contexts={})
    yield state
    for context, _ in state.contexts.values():
        context.close()


# The outermost elements that stick out to the right of the window, to say what overflows when it fails.
OVERFLOW_JS = """() => {
  const width = window.innerWidth;
  const culprits = [];
  const clipped = (el) => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== 'visible') return true;
    }
    return false;
  };
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    const parent = el.parentElement.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 1 && parent.right <= width + 1 && !clipped(el)) {
      const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
        (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
      culprits.push(`${name} (right edge ${Math.round(box.right)} px)`);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: width, culprits: culprits.slice(0, 10)};
}"""


def overflow(page: Any) -> dict[str, Any]:
    return dict(page.evaluate(OVERFLOW_JS))


@pytest.mark.django_db(transaction=True)
def test_no_page_scrolls_sideways_and_each_has_one_h1(browsing: Browsing, viewport: str) -> None:
    wide, headings = {}, {}
    for kind in page_kinds(browsing.site):
        page = browsing.visit(kind)
        measured = overflow(page)
        assert measured["innerWidth"] == VIEWPORTS[viewport]["width"]  # the window was not zoomed out to fit
        if measured["scrollWidth"] > measured["innerWidth"]:
            wide[kind.name] = measured
        h1 = page.locator("h1").all_inner_texts()
        if len(h1) != 1:
            headings[kind.name] = h1
        # the instructor's views are pictured with a class of 56 by test_instructor_views
        if kind.name in SHOWN_HERE:
            browsing.screenshot(page, kind.name)
    assert not wide, f"pages wider than the {viewport} window: {wide}"
    assert not headings, f"pages without exactly one H1: {headings}"


@pytest.mark.django_db(transaction=True)
def test_the_site_has_a_favicon(browsing: Browsing, viewport: str) -> None:
    page = browsing.visit(page_kinds(browsing.site)[0])
    linked = page.get_attribute("link[rel=icon]", "href")
    assert linked is not None and linked.endswith(".svg")
    for url in (browsing.site.url + linked, browsing.site.url + "/favicon.ico"):  # the second one redirects
        response = page.request.get(url)
        assert response.status == 200 and response.headers["content-type"].startswith("image/svg+xml"), url
        assert "<svg" in response.text()


@pytest.mark.django_db(transaction=True)
def test_authoring_fields_are_sized_for_code_and_labels_stay_text(browsing: Browsing, viewport: str) -> None:
    """The spec, statement and code fields span the form in a monospace font and are tall; a label that
    mentions $math$ shows the dollars instead of a formula."""
    kinds = {kind.name: kind for kind in page_kinds(browsing.site)}
    page = browsing.visit(kinds["exercise-edit"])
    form_width = page.locator("form.authoring").evaluate("el => el.clientWidth")
    for field in ("#id_spec", "#id_statement", "#id_starter", "#id_solution"):
        style = page.locator(field).evaluate(
            "el => ({width: el.offsetWidth, height: el.offsetHeight, font: getComputedStyle(el).fontFamily})"
        )
        assert style["width"] >= form_width - 1 and "monospace" in style["font"], (field, style)
        assert style["height"] >= 150, (field, style)
    label = page.locator("label[for=id_statement]")
    assert "$math$" in label.inner_text() and label.locator(".katex").count() == 0
    assert page.locator("#preview .katex").count() > 0  # the preview still renders the statement's math
    page = browsing.visit(kinds["concept-edit"])
    text = page.locator("#id_text").evaluate(
        "el => [el.offsetWidth, el.offsetHeight, el.parentElement.clientWidth]"
    )
    assert text[0] >= text[2] - 1 and text[1] >= 300


@pytest.mark.django_db(transaction=True)
def test_every_concept_and_exercise_fits(browsing: Browsing, viewport: str) -> None:
    """Course text (tables, display math, code) scrolls inside its own box on every concept and exercise."""
    from apps.course.models import Concept

    paths = [f"/concepts/{slug}/" for slug in Concept.objects.values_list("slug", flat=True)]
    paths += [f"/exercises/{slug}/" for slug in Exercise.objects.values_list("slug", flat=True)]
    wide = {}
    for path in paths:
        page = browsing.visit(PageKind(path, "student", path, "main h1"))
        measured = overflow(page)
        if measured["scrollWidth"] > measured["innerWidth"]:
            wide[path] = measured
    assert len(paths) > 20 and not wide, f"pages wider than the {viewport} window: {wide}"


@pytest.mark.django_db(transaction=True)
def test_the_exercise_page_works_by_touch(browsing: Browsing, viewport: str) -> None:
    """On a phone the statement sits above a full-width editor that takes a tap and typing; on a desktop they
    sit side by side."""
    page = browsing.visit(page_kinds(browsing.site)[3])
    statement = page.locator(".statement").bounding_box()
    editor = page.locator(".cm-editor").bounding_box()
    assert statement is not None and editor is not None
    if viewport == "phone":
        assert editor["y"] >= statement["y"] + statement["height"]  # stacked: the statement never covers it
        layout = page.locator(".exercise-layout").bounding_box()
        assert layout is not None and editor["width"] >= layout["width"] - 2  # the full width of the content
        page.tap(".cm-content")
    else:
        assert editor["x"] > statement["x"] + statement["width"] - 1  # side by side
        page.click(".cm-content")
    page.keyboard.press("Control+End")
    page.keyboard.type("\n# typed on the device\n")
    assert "# typed on the device" in page.evaluate("window.memlabEditor.getValue('#id_code')")
    assert "# typed on the device" in page.input_value("#id_code")  # the form sends what was typed
    scroller = page.locator(".cm-scroller")
    page.evaluate("window.memlabEditor.setValue('#id_code', 'x = [' + '1, '.repeat(120) + ']\\n')")
    assert scroller.evaluate("el => el.scrollWidth > el.clientWidth")  # a long line scrolls inside the editor
    assert overflow(page)["scrollWidth"] <= VIEWPORTS[viewport]["width"]


def small_targets(page: Any, selector: str) -> list[str]:
    """The visible elements matching ``selector`` whose box is under TAP_PX high, named by their text."""
    return list(
        page.eval_on_selector_all(
            selector,
            f"""els => els.filter(el => el.offsetParent !== null)
                .map(el => [el, el.getBoundingClientRect()])
                .filter(([el, box]) => box.height < {TAP_PX})
                .map(([el, box]) => `${{(el.innerText || el.value || el.tagName).trim()}}: ${{Math.round(box.height)}} px`)""",
        )
    )


@pytest.mark.django_db(transaction=True)
def test_the_header_collapses_and_its_controls_are_tap_sized(browsing: Browsing, viewport: str) -> None:
    """On a phone the header wraps under the brand (no script needed), every control on screen and tap-sized."""
    kinds = {kind.name: kind for kind in page_kinds(browsing.site)}
    header_controls = ".site-header a, .site-header button"
    for name in ("home", "gradebook", "login"):  # a student's, an instructor's and a visitor's header
        page = browsing.visit(kinds[name])
        header = page.locator(".site-header").bounding_box()
        assert header is not None and header["width"] <= VIEWPORTS[viewport]["width"]
        for control in page.locator(header_controls).all():
            if control.is_visible():
                box = control.bounding_box()
                assert (
                    box is not None
                    and box["x"] >= 0
                    and box["x"] + box["width"] <= VIEWPORTS[viewport]["width"]
                )
        if viewport == "phone":
            assert small_targets(page, header_controls) == [], name
    page = browsing.visit(kinds["home"])
    brand = page.locator(".site-header .brand").bounding_box()
    nav = page.locator(".site-header nav").bounding_box()
    assert brand is not None and nav is not None
    assert (
        page.get_by_role("button", name="Log out").is_visible()
        and page.locator(".site-header .who").is_visible()
    )
    if viewport == "phone":  # the brand on its own line, then the navigation wrapping under it
        assert nav["y"] >= brand["y"] + brand["height"] - 1
    else:  # one line
        assert nav["y"] < brand["y"] + brand["height"]
    page = browsing.visit(kinds["exercise"])
    if viewport == "phone":
        controls = "#submit-form button, #submit-form input[type=file], .workbench a, .crumbs a"
        assert small_targets(page, controls) == []
