"""Part (c) of the ``recurrence`` check, substitution: ``f`` applied to a memory the student never produced.

Replay and interleaving compare the student with the student; they cannot see code whose memory carries more
than its declared values (say, information hidden in how the numbers were produced) or that is right only on
memories it made itself. Here the parent builds ``Mem_{i-1}`` with the reference, in the declared layout, from
another sequence (unrounded values, unlike the graded cases), sends it as float32, and compares the student's
``Mem_i = update(Mem_{i-1}, k_i, v_i)`` (and ``read(Mem_i, q_i)``) with the float64 reference applied to that same
float32 memory. Since this compares with the reference, it runs only once ``correctness`` passed: an honest but
wrong recurrence is named by ``correctness`` alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from graders.cases import Case, other_history
from graders.checks.common import compare, fmt, to_list
from graders.exercise import ExerciseSpec
from graders.plan import Plan, State
from reference import ModelSpec

HISTORY_STEPS = 7  # length of the other sequence that produces the substituted memory


@dataclass(frozen=True)
class Substitution:
    case: Case  # the graded case whose step ``step`` is applied to the substituted memory
    step: int
    prev: State  # the substituted Mem_{i-1}, float32, as sent
    expected: State  # the reference's Mem_i from ``prev``, float64
    expected_read: torch.Tensor | None


def plan_into(plan: Plan, model: ModelSpec, case: Case, step: int) -> Substitution:
    """Add the substitution calls to ``plan`` (a fresh module instance) and compute what they must return."""
    spec = plan.spec
    other = other_history(spec, case.d, HISTORY_STEPS)
    mem = model.init(case.d, dtype=torch.float64, **spec.params)
    for t in range(other.T):
        mem = model.step(mem, other.K[t].double(), other.V[t].double(), **spec.params)
    prev = {key: mem[key].to(torch.float32) for key in spec.state}  # the declared layout, as sent
    exact = {key: value.double() for key, value in prev.items()}  # the reference starts from what was sent
    expected = model.step(exact, case.K[step].double(), case.V[step].double(), **spec.params)
    expected_read = None
    if spec.has_read:
        assert model.read is not None
        expected_read = model.read(expected, case.Q[step].double(), **spec.params)
    plan.module()
    plan.load_state("S", "subst/prev", prev)
    plan.steps("S", case, step, "subst", grown=other.T)  # a growing memory now holds other.T + 1 pairs
    return Substitution(case, step, prev, {key: expected[key] for key in spec.state}, expected_read)


def failure(
    spec: ExerciseSpec, sub: Substitution, outputs: dict[str, torch.Tensor]
) -> tuple[str, dict[str, Any]] | None:
    i, case = sub.step, sub.case
    pairs = [(key, outputs[f"subst/m/{i}/{key}"], sub.expected[key]) for key in spec.state]
    if sub.expected_read is not None:
        pairs.append(("read", outputs[f"subst/r/{i}"], sub.expected_read))
    for what, got, expected in pairs:
        if compare(got, expected, spec.tolerance).ok:
            continue
        before = ", ".join(f"{key} = {fmt(value)}" for key, value in sub.prev.items())
        returned = f"read with q_{i} = {fmt(case.Q[i])} returned" if what == "read" else f'"{what}" was'
        text = (
            f"From Mem_{i - 1} = ({before}), built from another sequence, and k_{i} = {fmt(case.K[i])}, "
            f"v_{i} = {fmt(case.V[i])}: {returned} {fmt(got)} but it should be {fmt(expected)}."
        )
        message = (
            "Your update is right on the memories your own code produced, but not on a memory it was handed: "
            f"from a Mem_{i - 1} in the declared layout that came from another sequence, the "
            f"{'read-out' if what == 'read' else 'new memory'} is not f(Mem_{i - 1}, k_{i}, v_{i}). Compute the "
            "new memory from the values in `mem` only, whatever produced them: no cache of past inputs, no "
            "count of calls, nothing recognised from earlier steps. " + text
        )
        counterexample = {
            "text": text,
            "step": i,
            "what": what,
            "memory": {key: to_list(value) for key, value in sub.prev.items()},
            "got": to_list(got),
            "expected": to_list(expected),
        }
        return message, counterexample
    return None
