"""What a student sees of a question: the variant on the form, the last attempt's report, and their standing.

Each attempt draws its own variant (``apps.quiz.variants``). The form shows the next attempt's fresh variant while
the student may still answer; once the question is done (solved, or no attempt left) it shows the variant of the
last attempt, as it was answered. The worked answer (explanation) appears after a correct answer, after a give-up
(for the variant given up on), and when no attempt is left; after a wrong answer only the verdict and the picked
options' feedback are shown, above a fresh variant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import QuerySet

from apps.accounts.models import User
from apps.quiz import credit, kinds
from apps.quiz.kinds import QuestionKind
from apps.quiz.models import Attempt, Question
from apps.quiz.variants import Shown, shown

if TYPE_CHECKING:  # the type only: quiz sits below course and never imports it
    from apps.course.models import Concept


@dataclass(frozen=True)
class QuestionView:
    question: Question
    last_attempt: Attempt | None
    shown: Shown  # the variant on the form, with this student's numbers and choice order
    history: tuple[bool, ...] = ()  # right or wrong, every attempt in order
    standing: credit.Standing | None = None
    reported: Shown | None = None  # the variant the last attempt was made on (its feedback and explanation)

    @property
    def kind(self) -> QuestionKind | None:
        """The question's kind (its ``template`` renders the answer inputs); None for one no longer registered."""
        return kinds.find(self.question.kind)

    @property
    def done(self) -> bool:
        return self.standing is not None and self.standing.done

    @property
    def on_form(self) -> Attempt | None:
        """The attempt made on the variant the form shows (its inputs come back filled in): once done only."""
        return self.last_attempt if self.done else None

    @property
    def fresh(self) -> bool:
        """The last attempt was on another variant: the form shows a new one."""
        return self.last_attempt is not None and not self.done

    @property
    def reveal(self) -> bool:
        """Show the worked answer of the last attempt's variant."""
        last = self.last_attempt
        return last is not None and (last.correct or last.gave_up or self.done)

    @property
    def notes(self) -> list[str]:
        """The author's feedback on each option the last attempt picked, in the order they were shown."""
        last, reported = self.last_attempt, self.reported
        if last is None or reported is None or not reported.feedback:
            return []
        response = last.response
        picked = (
            set(response.get("choices", []))
            | ({response["choice"]} if "choice" in response else set())
        )  # fmt: skip
        return [reported.feedback[i] for i in reported.order if i in picked and reported.feedback[i]]

    @property
    def right_choices(self) -> set[int]:
        """The options the key marks right, shown once the worked answer is."""
        if not self.reveal or self.reported is None:
            return set()
        key = self.reported.answer
        return set(key.get("choices", [])) | ({key["choice"]} if "choice" in key else set())

    @property
    def items(self) -> list[tuple[int, str]]:
        """(choice index, text) in the order shown on this variant."""
        return [(i, self.shown.choices[i]) for i in self.shown.order]

    @property
    def picked(self) -> list[int]:
        """What the attempt on the form ticked (multiple choice)."""
        return list(self.on_form.response.get("choices", [])) if self.on_form else []

    @property
    def typed(self) -> str:
        """The typed number, vector or matrix of the attempt on the form, as the student could type it again."""
        if not self.on_form or "value" not in self.on_form.response:
            return ""
        value = self.on_form.response["value"]
        if isinstance(value, list):
            rows = value if value and isinstance(value[0], list) else [value]
            return "; ".join(", ".join(f"{x:g}" for x in row) for row in rows)
        return f"{value:g}" if isinstance(value, float) else ""

    @property
    def positions(self) -> dict[int, int]:
        """Choice index -> the position the attempt on the form gave it (ordering)."""
        order = self.on_form.response.get("order", []) if self.on_form else []
        return {item: rank + 1 for rank, item in enumerate(order)}


def question_shown(*, question: Question, user: User, attempt: int = 0) -> Shown:
    """The variant of ``user``'s attempt number ``attempt`` (0-based) at ``question``."""
    return shown(
        user_id=user.pk,
        slug=question.slug,
        kind=question.kind,
        stem=question.stem,
        choices=list(question.choices),
        explanation=question.explanation,
        answer=dict(question.answer),
        variants=list(question.variants),
        feedback=list(question.feedback or []),
        attempt=attempt,
    )


def question_standing(*, question: Question, history: tuple[bool, ...]) -> credit.Standing:
    return credit.standing(history, max_attempts=question.max_attempts, credit=question.credit or [])


def question_current(*, question: Question, user: User) -> tuple[Shown, credit.Standing]:
    """The variant the next attempt is made on, and the standing it is made from (the services score with it)."""
    history = _history(question=question, user=user)
    return question_shown(question=question, user=user, attempt=len(history)), question_standing(
        question=question, history=history
    )


def _history(*, question: Question, user: User) -> tuple[bool, ...]:
    return tuple(
        Attempt.objects.filter(user=user, question=question)
        .order_by("created_at", "pk")
        .values_list("correct", flat=True)
    )


def _view(*, question: Question, user: User, attempts: list[Attempt]) -> QuestionView:
    history = tuple(a.correct for a in attempts)
    standing = question_standing(question=question, history=history)
    last = attempts[-1] if attempts else None
    n = len(attempts)
    reported = question_shown(question=question, user=user, attempt=n - 1) if last else None
    on_form = reported if reported is not None and standing.done else None
    current = on_form or question_shown(question=question, user=user, attempt=n)
    return QuestionView(question, last, current, history, standing, reported)


def question_view(*, question: Question, user: User, last_attempt: Attempt | None = None) -> QuestionView:
    """One question as ``user`` sees it now (``last_attempt`` is read from the database: kept for callers)."""
    attempts = list(Attempt.objects.filter(user=user, question=question).order_by("created_at", "pk"))
    return _view(question=question, user=user, attempts=attempts)


def questions_visible(*, user: User) -> QuerySet[Question]:
    """The questions ``user`` may see and answer: every one for an instructor; for a student, a published
    question on a published concept (a draft concept hides its questions)."""
    return Question.objects.all() if user.is_instructor else questions_for_students()


def questions_for_students() -> QuerySet[Question]:
    """What every student sees (and what the gradebook and the analytics count)."""
    return Question.objects.published().filter(concept__published=True)


def question_get_visible(*, slug: str, user: User) -> Question:
    """The question to answer; DoesNotExist (a 404) for one ``user`` may not see."""
    return questions_visible(user=user).select_related("concept").get(slug=slug)


def question_list_for_concept(*, concept: Concept, user: User) -> list[QuestionView]:
    """The questions of a concept page, each as ``user`` sees it (a student: the published ones only)."""
    questions = list(questions_visible(user=user).filter(concept=concept))
    attempts: dict[int, list[Attempt]] = {}
    for attempt in Attempt.objects.filter(user=user, question__in=questions).order_by("created_at", "pk"):
        attempts.setdefault(attempt.question_id, []).append(attempt)
    return [_view(question=q, user=user, attempts=attempts.get(q.pk, [])) for q in questions]
