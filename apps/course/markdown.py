"""Markdown → HTML for course text, leaving math for KaTeX (rendered in the browser from vendored assets).

Course text is written by instructors (trusted authors, ARCHITECTURE.md trust boundary 3); student text never
goes through here.
"""

from __future__ import annotations

import markdown
from django.utils.safestring import SafeString, mark_safe

_EXTENSIONS = ["extra", "sane_lists", "pymdownx.arithmatex"]
# generic=True wraps math as \(...\) / \[...\] in spans that KaTeX's auto-render picks up, and keeps
# Markdown from turning the underscores and asterisks inside formulas into emphasis.
_CONFIG = {"pymdownx.arithmatex": {"generic": True}}


def render_markdown(text: str) -> SafeString:
    html = markdown.markdown(text, extensions=_EXTENSIONS, extension_configs=_CONFIG, output_format="html")
    return mark_safe(html)  # noqa: S308 - output of the Markdown renderer over author-written course text
