"""Parsing a posted answer and scoring it: pure functions of the question's kind and answer key.

Answer keys by kind: ``true_false`` {value: bool}; ``single_choice`` {choice: i}; ``multiple_choice``
{choices: [i, …]}; ``numeric`` {value: x, rtol, atol}; ``vector`` {value: [..] or [[..]], rtol, atol};
``ordering`` {} (the choices are stored in the right order and shown shuffled).
"""

from __future__ import annotations

import math
import re
from typing import Any, Protocol

DEFAULT_RTOL = 1e-3  # numbers typed by hand: four significant digits are enough
DEFAULT_ATOL = 1e-6
MAX_TEXT = 2000  # characters of a typed number, vector or matrix
MAX_ELEMENTS = 256


class InvalidResponse(ValueError):
    """The posted data is not an answer to this question (message is shown to the student)."""


class Form(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...
    def getlist(self, key: str) -> list[Any]: ...


def parse_response(*, kind: str, data: Form, n_choices: int) -> dict[str, Any]:
    raw = str(data.get("answer") or "").strip()
    if kind == "true_false":
        if raw not in {"true", "false"}:
            raise InvalidResponse("Choose True or False.")
        return {"value": raw == "true"}
    if kind == "single_choice":
        if not raw.isdigit() or not 0 <= int(raw) < n_choices:
            raise InvalidResponse("Choose one of the options.")
        return {"choice": int(raw)}
    if kind == "multiple_choice":
        picked = {str(v) for v in data.getlist("answer")}
        if not picked or not all(v.isdigit() and 0 <= int(v) < n_choices for v in picked):
            raise InvalidResponse("Tick every option that applies (at least one).")
        return {"choices": sorted(int(v) for v in picked)}
    if kind == "numeric":
        return {"value": _number(raw)}
    if kind == "vector":
        return {"value": _array(raw)}
    if kind == "ordering":
        return {"order": _order(data, n_choices)}
    raise InvalidResponse(f"Questions of kind {kind!r} cannot be answered here yet.")


def is_correct(*, kind: str, answer: dict[str, Any], response: dict[str, Any]) -> bool:
    if kind in ("numeric", "vector"):
        rtol, atol = float(answer.get("rtol", DEFAULT_RTOL)), float(answer.get("atol", DEFAULT_ATOL))
        return _close(response.get("value"), answer.get("value"), rtol, atol)
    if kind == "ordering":
        return response.get("order") == list(range(len(response.get("order", []))))
    if kind == "multiple_choice":
        return sorted(response.get("choices", [])) == sorted(answer.get("choices", []))
    return dict(answer) == dict(response)


def _number(text: str) -> float:
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


def _array(text: str) -> list[Any]:
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
    parsed = [[_number(x.strip()) for x in re.split(r"[,\s]+", row.strip()) if x.strip()] for row in rows]
    if sum(len(r) for r in parsed) > MAX_ELEMENTS:
        raise InvalidResponse(f"At most {MAX_ELEMENTS} numbers.")
    if len(parsed) == 1:
        return parsed[0]
    if len({len(r) for r in parsed}) != 1:
        raise InvalidResponse("Every row of a matrix must have the same number of entries.")
    return parsed


def _order(data: Form, n: int) -> list[int]:
    """Item i (in the right-order numbering) was given the position ``position-i``; the items by position."""
    positions = {}
    for item in range(n):
        raw = str(data.get(f"position-{item}") or "").strip()
        if not raw.isdigit() or not 1 <= int(raw) <= n:
            raise InvalidResponse(f"Give every item a position from 1 to {n}.")
        positions[item] = int(raw)
    if sorted(positions.values()) != list(range(1, n + 1)):
        raise InvalidResponse("Use each position once.")
    return sorted(range(n), key=lambda item: positions[item])


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
