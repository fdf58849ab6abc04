"""What a question kind is: the one class a new kind subclasses, and the errors its methods raise.

A kind owns everything that differs between, say, a true/false and an ordering question: the shape of its answer
key in a course file, the order its choices are shown in, how a posted form becomes a response, how a response is
scored, and the template partial with its inputs. The rest of the app names no kind; it asks the registry
(``apps.quiz.kinds``). Nothing here imports Django, so the course loader and plain tests can use it.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Protocol


class InvalidResponse(ValueError):
    """The posted data is not an answer to this question (message is shown to the student)."""


class AnswerKeyError(ValueError):
    """A course file's answer key does not fit its kind (message for the author; the loader adds the path)."""


class Form(Protocol):
    """The posted data: a Django ``QueryDict``, or any mapping that can also list a repeated key."""

    def get(self, key: str, default: Any = None) -> Any: ...
    def getlist(self, key: str) -> list[Any]: ...


class QuestionKind(ABC):
    """One kind of question. Subclass it, set ``name`` and ``label``, and ``register()`` an instance.

    The answer key and the response are plain JSON mappings stored on Question and Attempt, so a kind must keep
    reading the ones it wrote before: change their shape only with a data migration.
    """

    name: ClassVar[str]  # stored in Question.kind and written in course files: never rename one in use
    label: ClassVar[str]  # what instructors see (admin, analytics)
    keyed: ClassVar[bool] = (
        True  # the file gives an ``answer`` mapping (ordering's key is its choices' order)
    )
    randomizable: ClassVar[bool] = False  # may name a generator, whose variants carry their own answer keys

    @property
    def template(self) -> str:
        """The partial with the answer inputs, included by quiz/question_page.html with ``item`` and ``last``."""
        return f"quiz/kinds/{self.name}.html"

    @abstractmethod
    def check_key(self, *, answer: dict[str, Any], choices: list[str]) -> None:
        """Refuse an answer key (``{}`` for a kind that is not ``keyed``) with an AnswerKeyError for the author."""

    @abstractmethod
    def parse(self, *, data: Form, n_choices: int) -> dict[str, Any]:
        """The posted form as this kind's response mapping; InvalidResponse says what to fix."""

    def score(self, *, answer: dict[str, Any], response: dict[str, Any]) -> bool:
        """Right or wrong. Most keys are right only when equal to the response; a kind with tolerance overrides."""
        return dict(answer) == dict(response)

    def order(self, *, seed: str, n: int) -> list[int]:
        """The order the choices are shown in (indices into the stored choices) on one variant; ``seed`` names the
        student, the question and the attempt, so a reload keeps the order and the next attempt draws a new one.
        As stored by default (true / false, typed answers)."""
        return list(range(n))


def shuffle(*, seed: str, n: int) -> list[int]:
    """A fixed shuffle of ``range(n)`` for ``seed``: the same seed always gives the same order."""
    # sha256, not crc32: crc32 is affine, so seeds of one length would all give the same order
    return sorted(range(n), key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).digest())


def is_choice_index(value: Any, n_choices: int) -> bool:
    """An index into the choices as YAML gives it (``true`` is an int in Python, but not an index here)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < n_choices
