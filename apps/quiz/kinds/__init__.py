"""The question kinds, one module each, behind one registry: the only place that lists them.

The course loader, the scoring of an answer, the drawing of a student's variant, the question page and the
``Question.kind`` choices all look a kind up here, so adding one is a module with a ``QuestionKind`` subclass,
a template partial ``quiz/kinds/<name>.html``, and one ``register()`` line below (or in the adding app's
``AppConfig.ready``). The registry is filled once at import and read afterwards; ``unregister`` exists for tests.
"""

from __future__ import annotations

from apps.quiz.kinds import multiple_choice, numeric, ordering, single_choice, true_false, vector
from apps.quiz.kinds.base import AnswerKeyError, Form, InvalidResponse, QuestionKind

__all__ = [
    "AnswerKeyError",
    "Form",
    "InvalidResponse",
    "QuestionKind",
    "UnknownKind",
    "all_kinds",
    "choices",
    "find",
    "get",
    "names",
    "register",
    "unregister",
]

_KINDS: dict[str, QuestionKind] = {}  # by name, in registration order (the order of the model's choices)


class UnknownKind(LookupError):
    """No kind of that name is registered."""


def register(kind: QuestionKind) -> QuestionKind:
    """Add a kind. A second kind of the same name is refused: it would silently change stored questions."""
    if kind.name in _KINDS:
        raise ValueError(f"a question kind named {kind.name!r} is already registered")
    _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Remove a kind (tests that register a toy kind restore the registry with it)."""
    _KINDS.pop(name, None)


def get(name: str) -> QuestionKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise UnknownKind(f"no question kind {name!r} (known: {sorted(_KINDS)})") from None


def find(name: str) -> QuestionKind | None:
    """The kind, or None for a name no longer registered (a question stored before its kind was removed)."""
    return _KINDS.get(name)


def all_kinds() -> list[QuestionKind]:
    return list(_KINDS.values())


def names() -> list[str]:
    return list(_KINDS)


def choices() -> list[tuple[str, str]]:
    """``Question.kind``'s choices: a callable, so a kind registered later is a valid choice with no migration."""
    return [(kind.name, kind.label) for kind in _KINDS.values()]


register(true_false.KIND)
register(single_choice.KIND)
register(multiple_choice.KIND)
register(numeric.KIND)
register(vector.KIND)
register(ordering.KIND)
