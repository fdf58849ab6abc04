"""Randomized questions: which stored variant a student gets, and the question's texts with its numbers.

A question with a ``generator`` holds a list of variants computed by the reference when the course is synced
(``apps.quiz.generators``): each is ``{"vars": {name: text}, "answer": {...}}``. A student always gets the same
variant of a question (a hash of the user and the question), so a reload does not change the numbers.
Placeholders in the stem, choices and explanation are written ``[[name]]``. The question's kind decides the order
its choices are shown in (``QuestionKind.order``).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Any

from apps.quiz import kinds

PLACEHOLDER = re.compile(r"\[\[([A-Za-z_][A-Za-z0-9_]*)\]\]")


@dataclass(frozen=True)
class Shown:
    """A question as one student sees it."""

    variant: int | None
    stem: str
    choices: list[str]
    explanation: str
    answer: dict[str, Any]
    order: list[int]  # the order the choices are shown in (a shuffle for an ordering question)


def variant_index(*, user_id: int, slug: str, n: int) -> int | None:
    return None if n == 0 else zlib.crc32(f"{user_id}:{slug}".encode()) % n


def fill(text: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def shown(
    *, user_id: int, slug: str, kind: str, stem: str, choices: list[str], explanation: str,
    answer: dict[str, Any], variants: list[dict[str, Any]],
) -> Shown:  # fmt: skip
    index = variant_index(user_id=user_id, slug=slug, n=len(variants))
    values = variants[index]["vars"] if index is not None else {}
    key = variants[index]["answer"] if index is not None else answer
    found = kinds.find(kind)  # the kind draws the choices' order: a student's own shuffle for an ordering one
    order = found.order(user_id=user_id, slug=slug, n=len(choices)) if found else list(range(len(choices)))
    return Shown(
        index, fill(stem, values), [fill(c, values) for c in choices], fill(explanation, values), key, order
    )
