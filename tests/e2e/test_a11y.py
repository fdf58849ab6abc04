"""Accessibility (issue 19, must show): axe-core, vendored under static/vendor/axe/ by frontend/build.mjs, runs in
a real headless Chromium on the home, map, concept (with its questions, before and after an answer), exercise,
run, gradebook, per-student and analytics pages at 1280×900 and 390×844, and finds no serious or critical violation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_layout import CONCEPT, Browsing, PageKind, browsing, page_kinds, site, viewport

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]
__all__ = ["browsing", "site", "viewport"]  # the fixtures this module borrows from test_layout

AXE = Path(__file__).resolve().parents[2] / "static" / "vendor" / "axe" / "axe.min.js"
BLOCKING = ("serious", "critical")
CHECKED = (
    "home",
    "map",
    "concept",
    "exercise",
    "run",
    "gradebook",
    "student-record",
    "exercise-analytics",
    "analytics",
)


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """The serious and critical violations axe finds on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [v for v in results["violations"] if v["impact"] in BLOCKING]


def readable(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"\n[{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:6]:
            summary = " ".join(node.get("failureSummary", "").split())
            lines.append(
                f"    {' '.join(map(str, node['target']))}\n      {node['html'][:160]}\n      {summary[:300]}"
            )
        if len(v["nodes"]) > 6:
            lines.append(f"    … and {len(v['nodes']) - 6} more")
    return "\n".join(lines)


@pytest.mark.django_db(transaction=True)
def test_axe_finds_no_serious_violation(browsing: Browsing, viewport: str) -> None:
    assert AXE.is_file(), "run: cd frontend && npm ci && npm run build"
    kinds = {kind.name: kind for kind in page_kinds(browsing.site)}
    found = {}
    for name in CHECKED:
        page = browsing.visit(kinds[name])
        if violations := axe_violations(page):
            found[name] = violations
    # a concept's question after a wrong answer: the feedback, the verdict and the worked answer's colours
    page = browsing.visit(PageKind("concept", "student", f"/concepts/{CONCEPT}/", ".katex"))
    question = page.locator("form.question", has=page.locator("input[type=radio]")).first
    slug = question.get_attribute("id")
    question.locator("input[type=radio]").first.check()
    question.get_by_role("button", name="Check answer").click()
    page.locator(f"#{slug} .verdict").wait_for()
    if violations := axe_violations(page):
        found["concept, answered"] = violations
    assert not found, "axe found serious or critical violations:" + "".join(
        f"\n\n== {name} ({viewport}){readable(violations)}" for name, violations in found.items()
    )
