"""Typed numbers, vectors and matrices, shared by the ``numeric`` and ``vector`` kinds.

Students type them by hand, so parsing is forgiving about brackets, separators and a typographic minus, and
scoring compares with a tolerance: ``|got - want| <= atol + rtol * |want|`` element by element, shapes equal.
"""

from __future__ import annotations

import math
import re
from typing import Any

from apps.quiz.kinds.base import InvalidResponse

DEFAULT_RTOL = 1e-3  # numbers typed by hand: four significant digits are enough
DEFAULT_ATOL = 1e-6
MAX_TEXT = 2000  # characters of a typed number, vector or matrix
MAX_ELEMENTS = 256


def parse_number(text: str) -> float:
    if not text:
        raise InvalidResponse("Type a number, for example 0.25 or -1.5e-3.")
    if len(text) > MAX_TEXT:
        raise InvalidResponse("That answer is far too long for a number.")
    try:
        value = float(text.replace("−", "-"))
    except ValueError:
        raise InvalidResponse(f"{text[:40]!r} is not a number: write it like 0.25 or -1.5e-3.") from None
    if not math.isfinite(value):
        raise InvalidResponse("Type a finite number.")
    return value


def parse_array(text: str) -> list[Any]:
    """``1, 2, 3`` or ``[1, 2, 3]`` for a vector; rows separated by ``;`` or new lines (or ``[[1, 2], [3, 4]]``)."""
    if len(text) > MAX_TEXT:
        raise InvalidResponse("That answer is too long.")
    body = text.strip()
    if body.startswith("[[") and body.endswith("]]"):
        body = body[2:-2].replace("],", ";").replace("]", "").replace("[", "")
    body = body.strip("[]")
    rows = [r for r in re.split(r"[;\n]", body) if r.strip()]
    if not rows:
        raise InvalidResponse("Type the numbers separated by commas, rows separated by semicolons.")
    parsed = [
        [parse_number(x.strip()) for x in re.split(r"[,\s]+", row.strip()) if x.strip()] for row in rows
    ]
    if sum(len(r) for r in parsed) > MAX_ELEMENTS:
        raise InvalidResponse(f"At most {MAX_ELEMENTS} numbers.")
    if len(parsed) == 1:
        return parsed[0]
    if len({len(r) for r in parsed}) != 1:
        raise InvalidResponse("Every row of a matrix must have the same number of entries.")
    return parsed


def close_to_key(*, answer: dict[str, Any], response: dict[str, Any]) -> bool:
    """The response's ``value`` against the key's, with the key's ``rtol``/``atol`` or the defaults."""
    rtol, atol = float(answer.get("rtol", DEFAULT_RTOL)), float(answer.get("atol", DEFAULT_ATOL))
    return _close(response.get("value"), answer.get("value"), rtol, atol)


def _close(got: Any, want: Any, rtol: float, atol: float) -> bool:
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(got) == len(want)
            and all(_close(g, w, rtol, atol) for g, w in zip(got, want, strict=True))
        )
    if isinstance(got, list) or not isinstance(got, int | float) or not isinstance(want, int | float):
        return False
    return abs(got - want) <= atol + rtol * abs(want)


def is_number(x: Any) -> bool:
    """A number in a course file (YAML's ``true`` is not one)."""
    return isinstance(x, int | float) and not isinstance(x, bool)


def is_array(x: Any) -> bool:
    """A non-empty vector, or a matrix of non-empty rows of one length, in a course file."""
    if not isinstance(x, list) or not x:
        return False
    if all(is_number(v) for v in x):
        return True
    return (
        all(isinstance(r, list) and r and all(is_number(v) for v in r) for r in x)
        and len({len(r) for r in x}) == 1
    )
