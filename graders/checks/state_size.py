"""The ``state_size`` check: a fixed-size memory holds as many numbers after ``8n`` steps as after ``n``.

One fresh process runs a single sequence of ``8n`` steps (longer than any correctness case); only ``Mem_{n-1}``
and ``Mem_{8n-1}`` come back. The parent counts every element the student returned, under whatever keys, so a
memory that keeps a growing history (a tensor that gets longer, or entries that appear late) is caught even
where it stays within the declared layout for the short correctness cases. The warm-up ``n`` is at least twice
every integer hyper-parameter, so a window is full before the first count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from graders.cases import Case, long_case
from graders.checks.api import PROPERTIES, Check, Context, Part, Planned
from graders.exercise import ExerciseSpec
from graders.plan import Plan
from graders.report import CheckResult
from graders.sandbox.outcome import JobOutcome, under

CHECK_ID = "state_size"
WARM_UP = 64  # n: above the longest correctness case (50 steps)
GROWTH = 8  # the second count is after GROWTH * n steps


@dataclass(frozen=True)
class SizePlan:
    plan: Plan
    case: Case
    counted: tuple[int, int]  # the steps whose memories are counted: n - 1 and 8n - 1


def plan_for(spec: ExerciseSpec) -> SizePlan:
    ints = [value for value in spec.params.values() if isinstance(value, int)]  # sizes (n_c, L), not rates
    n = max([WARM_UP, *(2 * i for i in ints)])
    case = long_case(spec, GROWTH * n)
    counted = (n - 1, GROWTH * n - 1)
    plan = Plan(spec)
    plan.module()
    plan.init("s", case, "size/init")
    for t in range(case.T):
        plan.update("s", case, t, f"size/m/{t}" if t in counted else None, schema=False)
    return SizePlan(plan, case, counted)


def layout(outputs: dict[str, torch.Tensor], save: str) -> dict[str, tuple[int, ...]]:
    """Every key the student returned at ``save``, with its shape."""
    return {name: tuple(t.shape) for name, t in under(outputs, save).items()}


def evaluate(spec: ExerciseSpec, sp: SizePlan, outcome: JobOutcome) -> CheckResult:
    points = spec.check_points(CHECK_ID)
    early, late = sp.counted
    shapes = {t: layout(outcome.outputs, f"size/m/{t}") for t in sp.counted}
    sizes = {t: sum(_numel(shape) for shape in shapes[t].values()) for t in sp.counted}
    declared = sp.plan.state_shapes(sp.case.d)
    if sizes[early] == sizes[late] and shapes[early] == shapes[late] == declared:
        message = (
            f"Your memory stays fixed-size: {sizes[late]} numbers after {early + 1} steps and after {late + 1} "
            f"steps (d = {sp.case.d}), in exactly the declared tensors."
        )
        return CheckResult(CHECK_ID, True, points, points, message)
    grows = "grew" if sizes[late] > sizes[early] else "changed"
    message = (
        f"This exercise's memory must have a fixed size, but yours {grows}: on one sequence with d = {sp.case.d} "
        f"it held {sizes[early]} numbers after {early + 1} steps and {sizes[late]} after {late + 1} steps. "
        "A memory that keeps every pair (a list, a stacked history, extra entries) is a full KV cache, not this "
        f"model: keep only the declared tensors, {_describe(declared)}, and compute them from the previous memory instead of keeping a history."
    )
    counterexample = {
        "text": f"After {early + 1} steps: {_describe(shapes[early])}; after {late + 1} steps: "
        f"{_describe(shapes[late])}.",
        "steps": [early + 1, late + 1],
        "elements": [sizes[early], sizes[late]],
        "declared": {key: list(shape) for key, shape in declared.items()},
    }
    return CheckResult(CHECK_ID, False, 0.0, points, message, counterexample=counterexample)


def _numel(shape: tuple[int, ...]) -> int:
    count = 1
    for size in shape:
        count *= size
    return count


def _describe(shapes: dict[str, tuple[int, ...]]) -> str:
    return ", ".join(f'"{key}" of shape {shape}' for key, shape in sorted(shapes.items())) or "no tensors"


LONG_RUN = "long_run"  # the share key of the long run (step_cost counts the same run)


def size_plan(ctx: Context) -> SizePlan:
    """The long run, kept with the exercise."""
    return ctx.prep.keep(CHECK_ID, lambda: plan_for(ctx.spec))


class StateSize:
    """The long run, last in the shared properties job. It is fragile: a submission whose cost grows can time out
    there, and the other parts of the job then run again without it."""

    id = CHECK_ID
    needs: tuple[str, ...] = ()

    def plan(self, ctx: Context) -> Planned:
        sp = size_plan(ctx)
        return Planned([Part(PROPERTIES, sp.plan, share=LONG_RUN, fragile=True)], sp)

    def judge(self, ctx: Context, planned: Planned, outcomes: Mapping[str, JobOutcome]) -> CheckResult:
        return evaluate(ctx.spec, planned.data, outcomes[PROPERTIES])


CHECK: Check = StateSize()
