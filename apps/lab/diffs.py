"""The change between two attempts, as lines a template can colour (text only: the template escapes it)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

MAX_LINES = 2000  # a diff longer than this is cut (a submission is at most 64 KiB)


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "add", "del", "hunk" or "same"
    text: str


def source_diff(before: str, after: str, *, before_name: str, after_name: str) -> list[DiffLine]:
    lines = difflib.unified_diff(
        before.splitlines(), after.splitlines(), fromfile=before_name, tofile=after_name, lineterm="", n=3
    )
    out = []
    for line in lines:
        if line.startswith(("---", "+++")):
            continue
        kind = (
            "hunk"
            if line.startswith("@@")
            else "add"
            if line[:1] == "+"
            else "del"
            if line[:1] == "-"
            else "same"
        )
        out.append(DiffLine(kind, line))
        if len(out) >= MAX_LINES:
            out.append(DiffLine("hunk", "… (the rest of the diff is not shown)"))
            break
    return out
