"""The registry of checks: which checks exist, for which interface, in which order, and where each one lives.

A check is one module of this package (or anywhere else) that defines ``CHECK``, an object following the
:class:`graders.checks.api.Check` protocol: it plans the parts of sandbox jobs it needs and judges their outcome.
Adding one is a new file and one :func:`register` line below (see docs/EXTENDING.md). The registry itself is
cheap to import (no torch): the web app validates exercise specs against it, and the implementation modules load
only when a grading first needs them.

The ids are fixed by GRADING.md §3. For one id, each interface may have its own implementation: ``correctness``
compares stepped memories for the recurrent interface (:mod:`.correctness`) and whole outputs for the sequence
interface (:mod:`.outputs`). Registration order is execution order (and an exercise's checks are sorted by it);
helper modules that are no check of their own: ``common``, ``shrink`` (correctness's counterexample search) and
``substitution`` (recurrence's part (c)).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from graders.checks.api import Check

INTERFACE_NAMES = ("recurrent", "sequence")


@dataclass(frozen=True)
class Registered:
    """One check id: its implementation module per interface, and the points an authoring template gives it."""

    id: str
    modules: dict[str, str]  # interface -> module path defining ``CHECK`` (or an object following Check)
    points: float

    @property
    def interfaces(self) -> tuple[str, ...]:
        return tuple(self.modules)


_registry: dict[str, Registered] = {}
_loaded: dict[tuple[str, str], Check] = {}


def register(
    check_id: str,
    *,
    points: float,
    recurrent: str | Check | None = None,
    sequence: str | Check | None = None,
) -> Registered:
    """Register ``check_id`` with its implementation for each interface it applies to: a module path (imported
    on first use, its ``CHECK``) or the object itself. Registering an id again replaces it in place."""
    given = {"recurrent": recurrent, "sequence": sequence}
    modules: dict[str, str] = {}
    for interface, target in given.items():
        if target is None:
            continue
        if isinstance(target, str):
            modules[interface] = target
        else:
            modules[interface] = f"<object {check_id}/{interface}>"
            _loaded[(check_id, interface)] = target
    if not modules:
        raise ValueError(f"check {check_id!r} applies to no interface")
    entry = _registry[check_id] = Registered(check_id, modules, points)
    for interface in INTERFACE_NAMES:
        if interface not in modules or isinstance(given[interface], str):
            _loaded.pop((check_id, interface), None)
    return entry


def unregister(check_id: str) -> None:
    """Remove ``check_id`` (for tests that register a check of their own)."""
    _registry.pop(check_id, None)
    for interface in INTERFACE_NAMES:
        _loaded.pop((check_id, interface), None)


def registered() -> list[Registered]:
    """Every registered check, in execution order."""
    return list(_registry.values())


def ids() -> tuple[str, ...]:
    """Every check id, in execution order (an exercise's checks are sorted by it)."""
    return tuple(_registry)


def ids_for(interface: str) -> tuple[str, ...]:
    """The check ids an exercise of ``interface`` may list, in execution order."""
    return tuple(entry.id for entry in _registry.values() if interface in entry.modules)


def implementation(check_id: str, interface: str) -> Check:
    """The object that plans and judges ``check_id`` for ``interface`` (imports its module on first use)."""
    key = (check_id, interface)
    found = _loaded.get(key)
    if found is None:
        module = importlib.import_module(_registry[check_id].modules[interface])
        found = _loaded[key] = module.CHECK
    return found


# The built-in checks, in execution order. Points are the authoring template's suggestion only.
register("interface", points=10, recurrent="graders.checks.interface", sequence="graders.checks.interface")
register("correctness", points=40, recurrent="graders.checks.correctness", sequence="graders.checks.outputs")
register("recurrence", points=25, recurrent="graders.checks.recurrence")
register("purity", points=15, recurrent="graders.checks.purity")
register("state_size", points=10, recurrent="graders.checks.state_size")
register("step_cost", points=10, recurrent="graders.checks.step_cost")
register("complexity", points=25, sequence="graders.checks.complexity")
register("causality", points=25, sequence="graders.checks.causality")
