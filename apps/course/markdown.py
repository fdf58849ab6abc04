"""Markdown → HTML for course text, leaving math for KaTeX (rendered in the browser from vendored assets).

Course text is written by instructors (trusted authors, ARCHITECTURE.md trust boundary 3); student text never
goes through here.
"""

from __future__ import annotations

from functools import lru_cache
from xml.etree.ElementTree import Element

import markdown
from django.utils.safestring import SafeString, mark_safe
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor


class _UnderThePageTitle(Treeprocessor):
    """Course text is shown under its page's own H1 (the exercise's or the concept's title), so it keeps none:
    a leading H1 (a statement's "# Title", which repeats the page's) is dropped and any later H1 becomes an H2.
    One H1 per page, and the course files stay as authors write them."""

    def run(self, root: Element) -> None:
        if len(root) and root[0].tag == "h1":
            root.remove(root[0])
        for heading in root.iter("h1"):
            heading.tag = "h2"


class _OneH1(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 - Markdown's API
        md.treeprocessors.register(_UnderThePageTitle(md), "under_the_page_title", 5)


_EXTENSIONS: list[str | Extension] = ["extra", "sane_lists", "pymdownx.arithmatex", _OneH1()]
# generic=True wraps math as \(...\) / \[...\] in spans that KaTeX's auto-render picks up, and keeps
# Markdown from turning the underscores and asterisks inside formulas into emphasis.
_CONFIG = {"pymdownx.arithmatex": {"generic": True}}


CACHED_CHARS = 32_000  # course texts are far shorter (the longest concept page is under 4 000 characters)


def render_markdown(text: str) -> SafeString:
    """The HTML of ``text``. A concept page renders its body and every question's stem and choices on each visit,
    and Markdown took half of that page's time, so each process keeps the last thousand texts it rendered (pure in
    ``text``; an author's preview of something longer is rendered afresh)."""
    return _cached(text) if len(text) <= CACHED_CHARS else _render(text)


@lru_cache(maxsize=1024)
def _cached(text: str) -> SafeString:
    return _render(text)


def _render(text: str) -> SafeString:
    html = markdown.markdown(text, extensions=_EXTENSIONS, extension_configs=_CONFIG, output_format="html")
    return mark_safe(html)  # noqa: S308 - output of the Markdown renderer over author-written course text
