"""The ``interface`` check: the file runs, defines the functions, and every returned message has the declared
layout (exact keys, shapes, a floating dtype, finite values). The parent re-checks everything the runner sent."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from graders.checks.api import Check, Context, Planned
from graders.exercise import ExerciseSpec
from graders.plan import Call, Plan
from graders.report import CheckResult, sanitize
from graders.sandbox.outcome import JobOutcome, under

CHECK_ID = "interface"


def passed(spec: ExerciseSpec) -> CheckResult:
    names = [f"`{name}`" for name in spec.functions]
    listed = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]
    points = spec.check_points(CHECK_ID)
    if spec.is_sequence:
        message = f"Your file runs, defines {listed}, and every output had shape (T, d) and a floating dtype."
        return CheckResult(CHECK_ID, True, points, points, message)
    returned = "every memory and read-out" if spec.has_read else "every memory"
    message = f"Your file runs, defines {listed}, and {returned} had the declared keys, shapes and dtype."
    return CheckResult(CHECK_ID, True, points, points, message)


def failed(spec: ExerciseSpec, message: str, *, hidden: bool = False) -> CheckResult:
    return CheckResult(CHECK_ID, False, 0.0, spec.check_points(CHECK_ID), message, hidden=hidden)


def missing_message(spec: ExerciseSpec, names: list[str]) -> str:
    # ``names`` comes from the child, which the student controls (a forged result frame can say anything): only
    # the exercise's own function names are ever echoed, never the child's text
    known = [name for name in spec.functions if name in names]
    what = (
        " and ".join(f"`{name}`" for name in known) + " was not a function"
        if known
        else "a function was missing"
    )
    signatures = "\n".join(f"    {spec.signature(name)}" for name in spec.functions)
    return f"After your file ran, {what}. Define at the top level:\n{signatures}"


def schema_problem(plan: Plan, outcome: JobOutcome) -> tuple[str, bool] | None:
    """The first returned value that breaks the layout, as (message, hidden), or None if all are fine."""
    found = schema_problem_at(plan, outcome)
    return None if found is None else found[:2]


def schema_problem_at(plan: Plan, outcome: JobOutcome) -> tuple[str, bool, int] | None:
    """The first returned value that breaks the layout, as (message, hidden, op index), or None."""
    calls = plan.calls[: outcome.finished_ops(len(plan.calls))]
    if _all_well_formed(plan, calls, outcome.outputs):
        return None  # the usual case, decided in bulk; otherwise the call-by-call walk below finds the first
    for index, call in enumerate(calls):
        if call.save is None:
            continue
        hidden = call.case is not None and call.case.hidden
        outputs = outcome.outputs
        problem = _state_problem(plan, call, outputs) if call.returns_state else _read_problem(call, outputs)
        if problem:
            return f"{problem} ({call.where()}).", hidden, index
    return None


def _all_well_formed(plan: Plan, calls: list[Call], outputs: dict[str, torch.Tensor]) -> bool:
    """Every saved value has the declared keys, shape and a floating dtype, and all of them are finite: the
    same tests as the walk, with one finiteness test over everything instead of one per tensor."""
    tensors: list[torch.Tensor] = []
    for call in calls:
        if call.save is None:
            continue
        assert call.case is not None
        if call.returns_state:
            got = under(outputs, call.save)
            expected = plan.state_shapes(call.case.d, call.step if call.grown is None else call.grown)
            if got.keys() != expected.keys():
                return False
            pairs = [(got[key], shape) for key, shape in expected.items()]
        elif call.save in outputs:
            pairs = [(outputs[call.save], _read_shape(call)[0])]
        else:
            return False
        for tensor, shape in pairs:
            if tuple(tensor.shape) != shape or not tensor.dtype.is_floating_point:
                return False
            tensors.append(tensor.reshape(-1))
    return not tensors or bool(torch.isfinite(torch.cat(tensors)).all())


def _state_problem(plan: Plan, call: Call, outputs: dict[str, torch.Tensor]) -> str | None:
    assert call.case is not None and call.save is not None
    got = under(outputs, call.save)
    expected = plan.state_shapes(call.case.d, call.step if call.grown is None else call.grown)
    if set(got) != set(expected):
        if call.case.hidden:  # the keys are the student's text and could carry the hidden inputs
            return f"{call.function} returned a memory whose keys are not exactly {sorted(expected)}"
        return (
            f"{call.function} returned a memory with the keys {sanitize(str(sorted(got)), 300)}, but this "
            f"exercise's memory has exactly the keys {sorted(expected)}"
        )
    for key, shape in expected.items():
        symbols = plan.spec.state[key]
        what = f'{call.function} returned "{key}"'
        problem = _tensor_problem(what, got[key], shape, _symbolic(symbols), call.case.hidden)
        if problem:
            return problem
    return None


def _read_problem(call: Call, outputs: dict[str, torch.Tensor]) -> str | None:
    """A read-out (``read``: shape (d,)) or a whole sequence's outputs (``attend``: shape (T, d))."""
    assert call.case is not None and call.save is not None
    if call.save not in outputs:
        return f"{call.function} returned nothing the grader could use"
    shape, symbolic = _read_shape(call)
    what = f"{call.function} returned a tensor"
    return _tensor_problem(what, outputs[call.save], shape, symbolic, call.case.hidden)


def _read_shape(call: Call) -> tuple[tuple[int, ...], str]:
    """The shape a read-out must have, and how to write it: ``attend`` gives (T, d), ``read`` gives (d,)."""
    assert call.case is not None
    if call.function == "attend":
        return (call.case.T, call.case.d), "(T, d)"
    return (call.case.d,), "(d,)"


def _tensor_problem(
    what: str, t: torch.Tensor, shape: tuple[int, ...], symbolic: str, hidden: bool
) -> str | None:
    if tuple(t.shape) != shape:
        if hidden:  # the sizes of a hidden case are not shown
            return f"{what} of the wrong shape; it must have shape {symbolic}"
        return f"{what} with shape {tuple(t.shape)}, but it must have shape {symbolic} = {shape}"
    if not t.dtype.is_floating_point:
        return f"{what} with dtype {t.dtype}; it must be a floating dtype such as torch.float32 (like the inputs)"
    if not bool(torch.isfinite(t).all()):
        return f"{what} containing NaN or infinite values; look for a division by zero or an overflow"
    return None


def _symbolic(symbols: tuple[str, ...]) -> str:
    return "()" if not symbols else "(" + ", ".join(symbols) + ("," if len(symbols) == 1 else "") + ")"


class Interface:
    """Judged from correctness's jobs, whose import and first case probe the interface (a failure there, or a
    malformed return anywhere, is blamed here): it passes once they ran to the end."""

    id = CHECK_ID
    needs: tuple[str, ...] = ("correctness",)

    def plan(self, ctx: Context) -> Planned:
        return Planned()

    def judge(self, ctx: Context, planned: Planned, outcomes: Mapping[str, JobOutcome]) -> CheckResult:
        return passed(ctx.spec)


CHECK: Check = Interface()
