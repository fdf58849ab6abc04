"""``complexity`` (sequence interface): the total cost of ``attend`` grows with T as the exercise declares.

One sandbox job calls ``attend`` on sequences of T = 256 … 4096 under the child's operation counter. Work is the
number of tensor elements that torch operations produced (deterministic: a T × T score matrix alone is T² of
them); the process CPU time of each call is measured too. Both are fitted as T^p over the three longest runs:
the elements' exponent must stay within ``SLACK`` of the declared one, and where the calls take long enough to
time, the CPU time's exponent within ``TIME_SLACK`` (work hidden from torch, in NumPy or pure Python, still costs
time). The outputs at every T must match the reference: a fast wrong answer proves nothing. The counts come from
the student's own process, so they are advisory; the parent bounds the job by its own CPU-time limit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from graders.cases import Case
from graders.checks.api import Check, Context, Part, Planned
from graders.checks.common import compare
from graders.exercise import ExerciseSpec
from graders.plan import Plan
from graders.plot_data import cost_plot
from graders.report import CheckResult, not_judged
from graders.sandbox.outcome import JobOutcome
from reference import ModelSpec

CHECK_ID = "complexity"
COUNT = "cx"
LADDER = (256, 512, 1024, 2048, 4096)
FIT_POINTS = 3  # the longest runs: short ones are dominated by per-call overhead
SLACK = 0.35  # allowed excess of the element-count exponent over the declared one (T² gives about 2)
TIME_SLACK = 0.6  # the same for CPU time, looser: times are noisy
MIN_TIMED_NS = 20_000_000  # below 20 ms at the longest T, CPU time is mostly overhead and is not fitted
# The ladder runs this many times, interleaved; each length keeps its least CPU time. Process CPU time still
# grows when other load shares the core's caches or its hyper-thread sibling: on a busy 2-core machine one
# inflated short call made a NumPy T² attend fit as T^1.5 and pass. The least of three is the usual defence.
REPEATS = 3


@dataclass(frozen=True)
class Costs:
    T: list[int]
    ops: list[int]
    elements: list[int]
    cpu_ns: list[int]

    def exponent(self, values: list[int]) -> float:
        return fitted_exponent(self.T[-FIT_POINTS:], values[-FIT_POINTS:])

    @property
    def timed(self) -> bool:
        return self.cpu_ns[-1] >= MIN_TIMED_NS


def fitted_exponent(xs: list[int], ys: list[int]) -> float:
    """Least-squares slope of log y against log x (y floored at 1)."""
    lx = [math.log(x) for x in xs]
    ly = [math.log(max(y, 1)) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum((a - mx) ** 2 for a in lx)


def ladder_cases(spec: ExerciseSpec) -> list[Case]:
    gen = torch.Generator().manual_seed(spec.seed + 3)
    low, high = spec.dims["d"]
    d = min(max(4, low), high)
    cases = []
    for T in LADDER:
        Q, K, V = (torch.randn((T, d), generator=gen) for _ in range(3))  # (T, d) each
        cases.append(Case(f"cx{T}", f"a sequence of T = {T}", d, K, V, Q))
    return cases


def output_name(case: Case, repeat: int) -> str:
    return f"{COUNT}/{case.T}/y" + (f"/{repeat}" if repeat else "")


def plan_for(spec: ExerciseSpec, cases: list[Case]) -> Plan:
    """The whole ladder, REPEATS times over (256 … 4096, 256 … 4096, …), every call under the counter."""
    plan = Plan(spec)
    plan.module()
    for repeat in range(REPEATS):
        for case in cases:
            plan.attend(case, output_name(case, repeat), count=COUNT)
    return plan


def costs(outputs: dict[str, torch.Tensor], cases: list[Case]) -> Costs | None:
    """The per-call numbers the child sent (one per call, in plan order), per length: the work of its first
    call and the least CPU time of its calls; None if they are missing or malformed."""
    columns = {}
    calls = len(cases) * REPEATS
    for name in ("ops", "elements", "cpu_ns"):
        t = outputs.get(f"{COUNT}/{name}")
        if t is None or t.dtype != torch.int64 or tuple(t.shape) != (calls,):
            return None
        per_call = [int(x) for x in t.tolist()]
        runs = [per_call[i :: len(cases)] for i in range(len(cases))]  # the REPEATS calls of each length
        columns[name] = [min(r) for r in runs] if name == "cpu_ns" else [r[0] for r in runs]
    return Costs([case.T for case in cases], **columns)


def evaluate(
    spec: ExerciseSpec, model: ModelSpec, cases: list[Case], outputs: dict[str, torch.Tensor]
) -> CheckResult:
    points = spec.check_points(CHECK_ID)
    declared = spec.complexity_exponent
    for case in cases:
        if not _matches(spec, model, case, [outputs[output_name(case, r)] for r in range(REPEATS)]):
            message = (
                f"Your attend is right on the short test sequences, but on {case.label} its output differs from "
                "the reference, so its cost there does not count. Make it exact for every length."
            )
            return CheckResult(CHECK_ID, False, 0.0, points, message)
    found = costs(outputs, cases)
    if found is None:
        message = (
            "The grader could not read the operation counts of your attend calls; do not tamper with them."
        )
        return CheckResult(CHECK_ID, False, 0.0, points, message)
    plot = cost_plot(
        "Work of attend against the sequence length",
        "T",
        found.T,
        {"tensor elements": found.elements, "torch operations": found.ops, "CPU ns": found.cpu_ns},
        declared,
    )
    result = _judged(spec, found, declared)
    result.plot = plot
    return result


def _judged(spec: ExerciseSpec, found: Costs, declared: float) -> CheckResult:
    points = spec.check_points(CHECK_ID)
    work = found.exponent(found.elements)
    time = found.exponent(found.cpu_ns) if found.timed else None
    span = f"T = {found.T[-FIT_POINTS]} to {found.T[-1]}"
    grew = f"the tensor elements your torch operations produced grew as T^{work:.2f} from {span}"
    timing = (
        f"; CPU time grew as T^{time:.2f}"
        if time is not None
        else f"; the calls took under {MIN_TIMED_NS // 1_000_000} ms, too short to fit a time"
    )
    counterexample = _cost_data(found, work, time, declared)
    if work > declared + SLACK:
        message = (
            f"Your attend does more work than O(T^{declared:g}): {grew} (a T × T score matrix alone gives T²). "
            "Compute each output from its window only, never a full T × T matrix."
        )
        return CheckResult(CHECK_ID, False, 0.0, points, message, counterexample=counterexample)
    if time is not None and time > declared + TIME_SLACK:
        message = (
            f"The torch operations in your attend look O(T^{declared:g}) ({grew}), but its CPU time grew as "
            f"T^{time:.2f}: some work that grows faster happens outside torch (a Python or NumPy loop over all "
            "pairs?)."
        )
        return CheckResult(CHECK_ID, False, 0.0, points, message, counterexample=counterexample)
    message = f"Your attend scales as declared, O(T^{declared:g}): {grew}{timing}."
    return CheckResult(CHECK_ID, True, points, points, message)


def _matches(spec: ExerciseSpec, model: ModelSpec, case: Case, outputs: list[torch.Tensor]) -> bool:
    """Whether every call's output on ``case`` matches the reference (computed once)."""
    assert model.attend_parallel is not None, f"{model.id} has no parallel read-out for the complexity check"
    Q, K, V = (x.to(torch.float64) for x in (case.Q, case.K, case.V))  # (T, d) each
    expected = model.attend_parallel(Q, K, V, **spec.params)  # (T, d_v)
    return all(compare(got, expected, spec.tolerance).ok for got in outputs)


def _cost_data(found: Costs, work: float, time: float | None, declared: float) -> dict[str, Any]:
    """The measured curve, shown with a failure."""
    return {
        "T": found.T,
        "elements": found.elements,
        "ops": found.ops,
        "cpu_ms": [round(ns / 1e6, 3) for ns in found.cpu_ns],
        "work_exponent": round(work, 3),
        "time_exponent": None if time is None else round(time, 3),
        "declared_exponent": declared,
    }


class Complexity:
    """A job of its own (timings without other work), run only once correctness passed: the cost of wrong
    outputs says nothing."""

    id = CHECK_ID
    needs: tuple[str, ...] = ("correctness",)

    def plan(self, ctx: Context) -> Planned:
        if not ctx.outputs_right():
            return Planned()
        spec = ctx.spec
        cases, plan = ctx.prep.keep(CHECK_ID, lambda: _ladder(spec))
        return Planned([Part(CHECK_ID, plan)], cases)

    def judge(self, ctx: Context, planned: Planned, outcomes: Mapping[str, JobOutcome]) -> CheckResult:
        if planned.data is None:
            return not_judged(CHECK_ID, ctx.spec.check_points(CHECK_ID))
        return evaluate(ctx.spec, ctx.model, planned.data, outcomes[CHECK_ID].outputs)


def _ladder(spec: ExerciseSpec) -> tuple[list[Case], Plan]:
    cases = ladder_cases(spec)
    return cases, plan_for(spec, cases)


CHECK: Check = Complexity()
