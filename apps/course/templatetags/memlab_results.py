"""Grading results as students read them: verdicts in words, checks with honest marks, messages with code and math.

Check messages are written by the grader but may quote what the student's code did (an exception's text, a value),
so they never go through the Markdown renderer, which passes raw HTML and any link target through. Everything is
escaped first; only two shapes become markup: `code` spans and the grader's subscripted names (Mem_{i-1}, k_3),
which KaTeX renders in the browser like the statement's math.
"""

from __future__ import annotations

import re
from typing import Any

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from apps.lab.selectors import MARKS, CheckLine, report_checks, verdict_label

register = template.Library()

# `code` | a name with a subscript: Mem_{i-1}, Mem_4, k_i, v_{t}, q_3 (not step_cost or init_memory)
_TOKEN = re.compile(
    r"`(?P<code>[^`\n]+)`"
    r"|(?<![\w.\\])(?P<base>CMem|Mem|[kvqhxyzMSW])_(?P<sub>\{[\w+\- ]{1,12}\}|\d+|[ijtn])(?![\w{])"
)


def render_message(text: str) -> SafeString:
    """``text`` escaped, with `code` as <code> and subscripted names as inline math for KaTeX."""
    out, at = [], 0
    for match in _TOKEN.finditer(text):
        out.append(escape(text[at : match.start()]))
        if match["code"] is not None:
            out.append(f"<code>{escape(match['code'])}</code>")
        else:
            base = match["base"] if len(match["base"]) == 1 else rf"\mathrm{{{match['base']}}}"
            sub = match["sub"] if match["sub"].startswith("{") else f"{{{match['sub']}}}"
            out.append(f'<span class="math">\\({escape(base)}_{escape(sub)}\\)</span>')
        at = match.end()
    out.append(escape(text[at:]))
    return mark_safe("".join(out))  # noqa: S308 - every piece of the text was escaped above


@register.filter(name="check_message")
def check_message(text: str) -> SafeString:
    return render_message(str(text or ""))


@register.filter(name="verdict_label")
def verdict_label_filter(verdict: str) -> str:
    return verdict_label(str(verdict or ""))


@register.filter(name="report_checks")
def report_checks_filter(report: dict[str, Any] | None) -> list[CheckLine]:
    return report_checks(report)


@register.filter(name="check_symbol")
def check_symbol(check: CheckLine) -> str:
    return MARKS[check.mark]
