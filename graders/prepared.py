"""What a grading needs from the exercise alone, prepared once per exercise version and shared by its gradings.

The cases, the plans of the visible and hidden jobs and of the long run, their packed inputs and the oracle's
trajectories depend on the exercise (its seed, sizes, parameters, checks) and never on the submission: a worker
that grades a burst of one exercise built them for every submission (about a third of the parent's CPU time per
grading). They are built on first use and kept, keyed by the exercise's whole content, so an instructor's edit (a
new version of the spec) gets fresh ones. Nothing here is mutated by a grading: the checks read cases, plans and
trajectories and build new tensors.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar

import reference
from graders.cases import Case, hidden, make_cases, visible
from graders.errors import ExerciseError
from graders.exercise import ExerciseSpec

KEEP = 16  # exercise versions kept per process (a course has a few dozen exercises; a burst hits one or two)
T = TypeVar("T")


class Prepared:
    """The submission-independent half of one grading of ``spec`` (see the module's docstring): the cases, and
    whatever each check builds from the exercise alone, kept with :meth:`keep`."""

    def __init__(self, spec: ExerciseSpec) -> None:
        self.spec = spec
        try:
            self.model = reference.get_model(spec.model)
        except KeyError as exc:
            raise ExerciseError(f"exercise {spec.slug!r}: {exc.args[0]}") from None
        self._kept: dict[str, Any] = {}

    @cached_property
    def cases(self) -> list[Case]:
        return make_cases(self.spec)

    @cached_property
    def shown(self) -> list[Case]:
        return visible(self.cases)

    @cached_property
    def secret(self) -> list[Case]:
        return hidden(self.cases)

    def keep(self, key: str, build: Callable[[], T]) -> T:
        """``build()``, the first time ``key`` is asked for; the same object every time after (a check's plans,
        say: keyed by the check's id, so that checks never share a key by accident)."""
        if key not in self._kept:
            self._kept[key] = build()
        found: T = self._kept[key]
        return found


_kept: OrderedDict[str, Prepared] = OrderedDict()


def prepared(spec: ExerciseSpec) -> Prepared:
    """The prepared half of ``spec``'s gradings, built on first use and kept for the ``KEEP`` latest versions."""
    key = repr(spec)  # the whole content (a frozen dataclass of plain values): an edited spec is another key
    found = _kept.get(key)
    if found is None:
        found = _kept[key] = Prepared(spec)
        while len(_kept) > KEEP:
            _kept.popitem(last=False)
    else:
        _kept.move_to_end(key)
    return found
