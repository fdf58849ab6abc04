"""Randomized questions: which stored variant a student's attempt gets, and the question's texts with its numbers.

A question with a ``generator`` holds a list of variants computed by the reference when the course is synced
(``apps.quiz.generators``): each is ``{"vars": {name: text}, "answer": {...}}``. Each attempt of a student draws
its own variant: attempt k takes the k-th entry of a fixed shuffle of the question's distinct variants (a hash of
the user and the question), so a reload shows the same numbers and the next attempt shows new ones (until all are
used). Placeholders in the stem, choices, explanation and feedback are written ``[[name]]``. The question's kind
decides the order its choices are shown in on each variant (``QuestionKind.order``): for a question without a
generator, a new attempt is a new order of the same choices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from apps.quiz import kinds
from apps.quiz.kinds.base import shuffle

PLACEHOLDER = re.compile(r"\[\[([A-Za-z_][A-Za-z0-9_]*)\]\]")


@dataclass(frozen=True)
class Shown:
    """A question as one student sees it on one attempt."""

    variant: int | None
    stem: str
    choices: list[str]
    explanation: str
    answer: dict[str, Any]
    order: list[int]  # the order the choices are shown in (shuffled per attempt for the choice kinds)
    feedback: list[str]  # per choice (by stored index), the author's text for picking it ("" for none)
    attempt: int = 0  # the attempt (0-based) this variant was drawn for


def variant_index(*, user_id: int, slug: str, n: int, attempt: int = 0, variants: list[Any] | None = None) -> int | None:  # fmt: skip
    """The variant of attempt ``attempt`` (0-based): consecutive attempts never share numbers while distinct
    variants remain (variants with the same numbers as an earlier one are never drawn)."""
    if n == 0:
        return None
    distinct = list(range(n))
    if variants is not None:
        distinct = [i for i in range(n) if all(variants[j]["vars"] != variants[i]["vars"] for j in range(i))]
    drawn = shuffle(seed=f"variant:{user_id}:{slug}", n=len(distinct))
    return distinct[drawn[attempt % len(drawn)]]


def fill(text: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def shown(
    *, user_id: int, slug: str, kind: str, stem: str, choices: list[str], explanation: str,
    answer: dict[str, Any], variants: list[dict[str, Any]], feedback: list[str] | None = None, attempt: int = 0,
) -> Shown:  # fmt: skip
    index = variant_index(user_id=user_id, slug=slug, n=len(variants), attempt=attempt, variants=variants)
    values = variants[index]["vars"] if index is not None else {}
    key = variants[index]["answer"] if index is not None else answer
    found = kinds.find(kind)  # the kind draws the choices' order on this variant
    seed = f"order:{user_id}:{slug}:{attempt}"
    order = found.order(seed=seed, n=len(choices)) if found else list(range(len(choices)))
    notes = [fill(text, values) for text in feedback or []]
    return Shown(
        index, fill(stem, values), [fill(c, values) for c in choices], fill(explanation, values), key, order,
        notes, attempt,
    )  # fmt: skip
