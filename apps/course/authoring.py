"""Concepts and questions edited in the browser, in the very text format of the course files.

The editor holds what ``export_course`` would write for the item; saving parses it with the loader's own
functions (same messages, same rules), checks its links against the database, and writes the one item (with its
links) in a transaction. ``export_course`` then writes it back to files.

Whether students see the item is the editor's checkbox, not a line of the text: the text shown has no
``published:`` key and one typed in is ignored. Anything new starts as a draft unless the box is ticked.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from django.db import transaction

from apps.course.content_files import (
    ContentError,
    concept_text,
    parse_concept_text,
    parse_question_text,
    question_text,
)
from apps.course.models import Concept
from apps.lab.models import Exercise
from apps.quiz.models import Question
from apps.quiz.services import question_variants

NEW_CONCEPT = """---
slug: my-concept
title: A new concept
summary: One sentence.
position: 500
tags: []
learn_before: []
related: []
exercises: []
---
The idea in a paragraph, then the formula:

$$
\\mathrm{Mem}_i = f\\big((k_i, v_i), \\mathrm{Mem}_{i-1}\\big)
$$
"""
NEW_QUESTION = """slug: my-question
concept: general-recurrent-formula
kind: true_false
position: 100
stem: |
  A statement about the concept.
answer:
  value: true
explanation: |
  Why it is true, and what the tempting wrong answer overlooks.
"""


def concept_source(concept: Concept | None) -> str:
    return concept_text(concept, with_state=False) if concept is not None else NEW_CONCEPT


def question_source(question: Question | None) -> str:
    return question_text(question, with_state=False) if question is not None else NEW_QUESTION


@transaction.atomic
def concept_save(*, text: str, editing: Concept | None, published: bool = False) -> Concept:
    """Parse and store one concept (raises ContentError with a message naming the problem)."""
    item = parse_concept_text(text, Path(f"{editing.slug if editing else 'new'}.md"))
    _same_slug(item.slug, editing, Concept)
    found = {c.slug: c for c in Concept.objects.filter(slug__in=item.learn_before + item.related)}
    missing = sorted(set(item.learn_before + item.related) - set(found) - {item.slug})
    if missing or item.slug in item.learn_before:
        raise ContentError(f"links to concepts that do not exist or to itself: {missing or [item.slug]}")
    exercises = {e.slug: e for e in Exercise.objects.filter(slug__in=item.exercises)}
    if set(item.exercises) - set(exercises):
        raise ContentError(
            f"lists exercises that do not exist: {sorted(set(item.exercises) - set(exercises))}"
        )
    values = {
        "title": item.title,
        "summary": item.summary,
        "body": item.body,
        "tags": item.tags,
        "position": item.position,
        "published": published,
    }
    concept, _ = Concept.objects.update_or_create(slug=item.slug, defaults=values)
    concept.learn_before.set([found[s] for s in item.learn_before])
    concept.related.set([found[s] for s in item.related if s in found])
    for position, slug in enumerate(item.exercises):
        Exercise.objects.filter(pk=exercises[slug].pk).update(concept=concept, position=position)
    return concept


@transaction.atomic
def question_save(*, text: str, editing: Question | None, published: bool = False) -> Question:
    """Parse and store one question; a randomized one gets its variants computed by the reference."""
    item = parse_question_text(text, Path(f"{editing.slug if editing else 'new'}.yaml"))
    _same_slug(item.slug, editing, Question)
    concept = Concept.objects.filter(slug=item.concept).first()
    if concept is None:
        raise ContentError(f"belongs to concept {item.concept!r}, which does not exist")
    values = {
        "concept": concept, "kind": item.kind, "stem": item.stem, "choices": item.choices, "answer": item.answer,
        "explanation": item.explanation, "position": item.position, "generator": item.generator,
        "feedback": item.feedback, "max_attempts": item.max_attempts, "credit": item.credit,
        "variants": question_variants(item.generator, item.slug), "published": published,
    }  # fmt: skip
    question, _ = Question.objects.update_or_create(slug=item.slug, defaults=values)
    return question


def _same_slug(slug: str, editing: Concept | Question | None, model: type[Concept] | type[Question]) -> None:
    if editing is not None and slug != editing.slug:
        raise ContentError("the slug of an existing item cannot change (links and attempts refer to it)")
    if editing is None and model.objects.filter(slug=slug).exists():
        raise ContentError(f"the slug {slug!r} is taken: choose another, or edit that item")


def preview_markdown(text: str) -> str:
    """What to render for the preview: a concept's body, or a question's stem and explanation."""
    if text.startswith("---"):
        parts = text.split("\n---\n", 1)
        return parts[1] if len(parts) == 2 else ""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return ""
    if not isinstance(data, dict):
        return ""
    choices = "".join(f"\n- {c}" for c in data.get("choices") or [] if isinstance(c, str))
    return f"{data.get('stem', '')}{choices}\n\n**Explanation.** {data.get('explanation', '')}"
