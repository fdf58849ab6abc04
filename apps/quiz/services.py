from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from django.db import transaction

from apps.accounts.models import User
from apps.quiz.models import Attempt, Question
from apps.quiz.scoring import Form, is_correct, parse_response
from apps.quiz.selectors import question_shown
from apps.upsert import upsert_by_slug


@transaction.atomic
def attempt_create(*, user: User, question: Question, data: Form) -> Attempt:
    """Score one answer against this student's variant and record it. Raises InvalidResponse (nothing stored)
    for a malformed answer."""
    shown = question_shown(question=question, user=user)
    response = parse_response(kind=question.kind, data=data, n_choices=len(question.choices))
    correct = is_correct(kind=question.kind, answer=shown.answer, response=response)
    return Attempt.objects.create(
        user=user, question=question, response=response, variant=shown.variant, correct=correct
    )


# --- the course files: questions loaded by ``apps.content``'s sync --------------------------------------------


class QuestionSource(Protocol):
    """A parsed question file (``apps.course.content_files.QuestionFile``): the fields the loader reads."""

    @property
    def slug(self) -> str: ...
    @property
    def concept(self) -> str: ...  # the concept's slug
    @property
    def kind(self) -> str: ...
    @property
    def stem(self) -> str: ...
    @property
    def choices(self) -> list[str]: ...
    @property
    def answer(self) -> dict[str, Any]: ...
    @property
    def explanation(self) -> str: ...
    @property
    def position(self) -> int: ...
    @property
    def generator(self) -> str: ...


@transaction.atomic
def questions_load(
    *,
    questions: Sequence[QuestionSource],
    concept_ids: Mapping[str, int],
    progress: Callable[[str], None] = lambda _: None,
) -> Counter[str]:
    """Upsert every question (``concept_ids``: a concept's pk by slug), a randomized one with its variants
    computed again; saves only the fields that changed, and counts created, updated and unchanged."""
    counts: Counter[str] = Counter()
    for q in questions:
        progress(
            f"question {q.slug}" + (f" ({q.generator} variants from the reference)" if q.generator else "")
        )
        values = {
            "concept_id": concept_ids[q.concept],
            "kind": q.kind,
            "stem": q.stem,
            "choices": q.choices,
            "answer": q.answer,
            "explanation": q.explanation,
            "position": q.position,
            "generator": q.generator,
            "variants": question_variants(q.generator, q.slug),
        }
        upsert_by_slug(Question, q.slug, values, counts)
    return counts


def question_variants(generator: str, slug: str) -> list[dict[str, Any]]:
    """A randomized question's variants, computed by the reference (none for a question without generator)."""
    if not generator:
        return []
    from apps.quiz.generators import variants  # torch and the reference: only for randomized questions

    return variants(generator, slug=slug)
