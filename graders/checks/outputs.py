"""``correctness`` for the sequence interface (registered as that interface's ``correctness``): ``attend(Q, K, V)`` equals the reference's read-outs, row by row.

Each case runs in a fresh module instance, smallest first, so the first failing visible case is the smallest one
the grader has. A failing row is reported with the inputs that row depends on (for a window, the pairs inside it);
a hidden failure shows no inputs at all.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from graders.cases import Case
from graders.checks.api import Check, Context, Planned
from graders.checks.common import answer_parts, compare, fmt, to_list
from graders.exercise import ExerciseSpec
from graders.plan import Plan
from graders.plot_data import trajectory
from graders.report import CheckResult
from graders.sandbox.outcome import JobOutcome
from reference import ModelSpec, attend_scan

CHECK_ID = "correctness"
LISTED_ROWS = 6  # a counterexample lists every input row up to this many; later ones list only the last few


@dataclass(frozen=True)
class RowMismatch:
    case: Case
    row: int
    got: torch.Tensor  # (d_v,)
    expected: torch.Tensor  # (d_v,)


def plan_for(spec: ExerciseSpec, cases: list[Case], prefix: str = "") -> Plan:
    """A fresh module, then ``attend`` on the whole case, for every case; outputs saved as ``<prefix><name>/y``."""
    plan = Plan(spec)
    for case in cases:
        plan.module()
        plan.attend(case, f"{prefix}{case.name}/y")
    return plan


def reference_outputs(model: ModelSpec, spec: ExerciseSpec, case: Case) -> torch.Tensor:
    """The oracle's read-outs for ``case``: the step loop (the definition), float64, on the parent's copies."""
    Q, K, V = (x.to(torch.float64) for x in (case.Q, case.K, case.V))  # (T, d) each
    return attend_scan(model, Q, K, V, **spec.params)  # (T, d_v)


def first_mismatch(
    spec: ExerciseSpec, case: Case, got: torch.Tensor, expected: torch.Tensor
) -> RowMismatch | None:
    for i in range(case.T):
        if not compare(got[i], expected[i], spec.tolerance).ok:
            return RowMismatch(case, i, got[i], expected[i])
    return None


def evaluate(
    spec: ExerciseSpec, outputs: dict[str, torch.Tensor], oracle: dict[str, torch.Tensor], cases: list[Case]
) -> CheckResult:
    """``outputs[name]`` (the student's) against ``oracle[name]`` for every case, smallest visible case first."""
    result = _evaluate(spec, outputs, oracle, cases)
    shown = [case for case in cases if not case.hidden]
    if shown:  # the longest failing visible case, else the longest one; never a hidden one
        bad = [c for c in shown if first_mismatch(spec, c, outputs[c.name], oracle[c.name]) is not None]
        case = max(bad or shown, key=lambda c: c.T)
        rows = {"y_i": (list(outputs[case.name]), list(oracle[case.name]))}
        result.plot = trajectory(case.label, rows, "row i")
    return result


def _evaluate(
    spec: ExerciseSpec, outputs: dict[str, torch.Tensor], oracle: dict[str, torch.Tensor], cases: list[Case]
) -> CheckResult:
    points = spec.check_points(CHECK_ID)
    worst = 0.0
    for case in cases:
        got, expected = outputs[case.name], oracle[case.name]
        mismatch = first_mismatch(spec, case, got, expected)
        if mismatch is not None:
            return _failed(spec, mismatch)
        worst = max(worst, compare(got, expected, spec.tolerance).relative_error)
    n_hidden = sum(case.hidden for case in cases)
    sequences = (
        f"{len(cases) - n_hidden} visible and {n_hidden} hidden" if n_hidden else f"the {len(cases)} visible"
    )
    message = (
        f"Every output row matched the float64 reference on {sequences} sequences (largest relative error "
        f"{worst:.1e})."
    )
    return CheckResult(CHECK_ID, True, points, points, message)


def _failed(spec: ExerciseSpec, m: RowMismatch) -> CheckResult:
    points = spec.check_points(CHECK_ID)
    if m.case.hidden:
        message = (
            "Your attend matches the reference on every visible case but not on a hidden one. Hidden cases are "
            f"longer or use other sizes (d up to {spec.dims['d'][1]}): check that nothing assumes a particular "
            "d, a particular length, or small input values."
        )
        return CheckResult(CHECK_ID, False, 0.0, points, message, hidden=True)
    text = _counterexample_text(spec, m)
    message = f"Your output differs from the reference on {m.case.label}, at row {m.row}. {text}"
    return CheckResult(CHECK_ID, False, 0.0, points, message, counterexample=_counterexample(m, text))


def _counterexample_text(spec: ExerciseSpec, m: RowMismatch) -> str:
    case, i = m.case, m.row
    params = ", ".join(f"{name} = {value:g}" for name, value in spec.params.items())
    first = max(0, i + 1 - LISTED_ROWS)
    rows = "; ".join(f"k_{j} = {fmt(case.K[j])}, v_{j} = {fmt(case.V[j])}" for j in range(first, i + 1))
    earlier = f" (and {first} earlier pairs)" if first else ""
    setting = f"With d = {case.d}" + (f" and {params}" if params else "")
    return (
        f"{setting}, the pairs up to row {i} are {rows}{earlier}; with q_{i} = {fmt(case.Q[i])} your y_{i} is "
        f"{fmt(m.got)} but it should be {fmt(m.expected)}."
    )


def _counterexample(m: RowMismatch, text: str) -> dict[str, Any]:
    case, i = m.case, m.row
    return {
        "text": text,
        "d": case.d,
        "row": i,
        "q": to_list(case.Q[i]),
        "k": to_list(case.K[: i + 1]),
        "v": to_list(case.V[: i + 1]),
        "got": to_list(m.got),
        "expected": to_list(m.expected),
    }


class Outputs:
    """Two jobs, the visible cases then the hidden ones, each case a fresh module and one ``attend``; the import
    and the first case probe the interface."""

    id = CHECK_ID
    needs: tuple[str, ...] = ()

    def plan(self, ctx: Context) -> Planned:
        prep = ctx.prep
        shown, secret = prep.keep(
            f"{CHECK_ID}/plans", lambda: (plan_for(ctx.spec, prep.shown), plan_for(ctx.spec, prep.secret))
        )
        return Planned(answer_parts(shown, secret, probe_end=2))  # ops 0, 1: the first case's import and call

    def judge(self, ctx: Context, planned: Planned, outcomes: Mapping[str, JobOutcome]) -> CheckResult:
        spec = ctx.spec
        cases = [
            c for c in ctx.prep.cases if not (c.hidden and ctx.examples_only)
        ]  # a practice run: no hidden
        started = time.perf_counter()
        got = {c.name: outcomes["hidden" if c.hidden else "visible"].outputs[f"{c.name}/y"] for c in cases}
        oracle = ctx.prep.keep(
            f"{CHECK_ID}/oracle",
            lambda: {c.name: reference_outputs(ctx.model, spec, c) for c in ctx.prep.cases},
        )
        result = evaluate(spec, got, oracle, cases)
        ctx.timings["reference_s"] = time.perf_counter() - started
        return result


CHECK: Check = Outputs()
