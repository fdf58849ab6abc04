from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from django.db import IntegrityError, transaction

from apps.accounts.models import User
from apps.quiz.credit import Standing
from apps.quiz.models import Attempt, Question
from apps.quiz.scoring import Form, InvalidResponse, is_correct, parse_response
from apps.quiz.selectors import question_current
from apps.quiz.variants import Shown
from apps.upsert import upsert_by_slug


@transaction.atomic
def attempt_create(*, user: User, question: Question, data: Form, number: int | None = None) -> Attempt:
    """Score one answer against the variant of this student's next attempt and record it. Raises
    InvalidResponse (nothing stored) for a malformed answer, a question that takes no more answers, or a form
    drawn for another attempt (``number``, 1-based: the page was open in two tabs)."""
    shown, standing = _next(user=user, question=question, number=number)
    response = parse_response(kind=question.kind, data=data, n_choices=len(question.choices))
    correct = is_correct(kind=question.kind, answer=shown.answer, response=response)
    return _store(user=user, question=question, number=standing.number, variant=shown.variant,
                  response=response, correct=correct)  # fmt: skip


@transaction.atomic
def attempt_give_up(*, user: User, question: Question, number: int | None = None) -> Attempt:
    """'Show the answer': the current variant is spent and scores nothing; the next attempt draws a fresh one."""
    shown, standing = _next(user=user, question=question, number=number)
    return _store(user=user, question=question, number=standing.number, variant=shown.variant,
                  response={}, correct=False, gave_up=True)  # fmt: skip


def _next(*, user: User, question: Question, number: int | None) -> tuple[Shown, Standing]:
    shown, standing = question_current(question=question, user=user)
    if standing.solved:
        raise InvalidResponse("You have answered this question correctly already.")
    if standing.done:
        raise InvalidResponse("No attempts are left on this question.")
    if number is not None and number != standing.number:
        raise InvalidResponse("This question moved on in another tab: here is where it stands now.")
    return shown, standing


def _store(*, user: User, question: Question, number: int, variant: int | None, response: dict[str, Any],
           correct: bool, gave_up: bool = False) -> Attempt:  # fmt: skip
    try:
        with transaction.atomic():  # a savepoint: the other tab's attempt of the same number won
            return Attempt.objects.create(
                user=user, question=question, number=number, response=response, variant=variant,
                correct=correct, gave_up=gave_up,
            )  # fmt: skip
    except IntegrityError:
        raise InvalidResponse("This question moved on in another tab: here is where it stands now.") from None


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
    @property
    def feedback(self) -> list[str]: ...
    @property
    def max_attempts(self) -> int | None: ...
    @property
    def credit(self) -> list[float]: ...
    @property
    def published(self) -> bool: ...


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
            "feedback": q.feedback,
            "max_attempts": q.max_attempts,
            "credit": q.credit,
            "variants": question_variants(q.generator, q.slug),
            "published": q.published,
        }
        upsert_by_slug(Question, q.slug, values, counts)
    return counts


def question_variants(generator: str, slug: str) -> list[dict[str, Any]]:
    """A randomized question's variants, computed by the reference (none for a question without generator)."""
    if not generator:
        return []
    from apps.quiz.generators import variants  # torch and the reference: only for randomized questions

    return variants(generator, slug=slug)
