"""The ``correctness`` check: every state (and read-out) matches the float64 reference, step by step.

Cases run smallest first, each in a fresh module instance (so that hidden state between calls is left for the
recurrence check to name). A failure is shrunk to the first failing step of the smallest failing visible case and
shown as a counterexample a student can replay by hand; a hidden failure shows no inputs at all.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from graders.cases import Case
from graders.checks.api import Check, Context, Planned
from graders.checks.common import answer_parts, compare, compare_steps, fmt, to_list
from graders.exercise import ExerciseSpec
from graders.plan import Plan, State, Trajectory, trajectory
from graders.plot_data import Plot
from graders.plot_data import trajectory as plot_trajectory
from graders.report import CheckResult
from graders.sandbox.outcome import JobOutcome
from reference import ModelSpec

CHECK_ID = "correctness"
# a counterexample lists every input up to this many steps; later ones start from the last right state
LISTED_STEPS = 6


@dataclass(frozen=True)
class Mismatch:
    case: Case
    step: int
    what: str  # a state key, or "read"
    got: torch.Tensor
    expected: torch.Tensor


def plan_for(spec: ExerciseSpec, cases: list[Case], *, record_args: bool = False) -> Plan:
    plan = Plan(spec)
    for case in cases:
        plan.whole_case(case, case.name, record_args=record_args)
    return plan


def reference_trajectory(model: ModelSpec, spec: ExerciseSpec, case: Case) -> Trajectory:
    """The oracle's states and read-outs for ``case``, in float64 on the parent's own copies of the inputs."""
    K, V, Q = (x.to(torch.float64) for x in (case.K, case.V, case.Q))  # (T, d) each
    mem = model.init(case.d, dtype=torch.float64, **spec.params)
    states: list[State] = []
    reads: list[torch.Tensor] = []
    for t in range(case.T):
        mem = model.step(mem, K[t], V[t], **spec.params)
        states.append(mem)
        if spec.has_read:
            assert model.read is not None
            reads.append(model.read(mem, Q[t], **spec.params))
    return Trajectory(case, states, reads)


def evaluate(spec: ExerciseSpec, student: list[Trajectory], reference: list[Trajectory]) -> CheckResult:
    result = _evaluate(spec, student, reference)
    result.plot = _plot(spec, student, reference)
    return result


def _plot(spec: ExerciseSpec, student: list[Trajectory], reference: list[Trajectory]) -> Plot | None:
    """The longest failing visible case, else the longest visible one: yours against the reference, per key."""
    shown = [(mine, ref) for mine, ref in zip(student, reference, strict=True) if not mine.case.hidden]
    if not shown:
        return None
    failing = [(m, r) for m, r in shown if first_mismatch(spec, m, r)[0] is not None]
    mine, ref = max(failing or shown, key=lambda pair: pair[0].case.T)
    what = {key: ([s[key] for s in mine.states], [s[key] for s in ref.states]) for key in spec.state}
    if spec.has_read:
        what["read"] = (mine.reads, ref.reads)
    return plot_trajectory(mine.case.label, what, "step i")


def _evaluate(spec: ExerciseSpec, student: list[Trajectory], reference: list[Trajectory]) -> CheckResult:
    worst = 0.0
    for mine, ref in zip(student, reference, strict=True):
        mismatch, error = first_mismatch(spec, mine, ref)
        worst = max(worst, error)
        if mismatch is not None:
            return _failed(spec, mismatch, ref)
    n_hidden = sum(t.case.hidden for t in student)
    what = "memory and read-outs" if spec.has_read else "memory"
    points = spec.check_points(CHECK_ID)
    sequences = (
        f"{len(student) - n_hidden} visible and {n_hidden} hidden"
        if n_hidden
        else f"the {len(student)} visible"
    )
    message = (
        f"Your {what} matched the float64 reference at every step of {sequences} sequences (largest relative "
        f"error {worst:.1e})."
    )
    return CheckResult(CHECK_ID, True, points, points, message)


def first_mismatch(spec: ExerciseSpec, mine: Trajectory, ref: Trajectory) -> tuple[Mismatch | None, float]:
    """The first (step, then key in order, then read-out) that does not match, and the largest relative error
    of the matches before it. Every step is compared at once where the trajectory's tensors stack."""
    whats = [*spec.state, *(["read"] if spec.has_read else [])]
    series = [
        (
            [s[key] for s in mine.states] if key != "read" else mine.reads,
            [s[key] for s in ref.states] if key != "read" else ref.reads,
        )
        for key in whats
    ]
    compared = [compare_steps(got, expected, spec.tolerance) for got, expected in series]
    if any(c is None for c in compared):
        return _first_mismatch_stepwise(spec, mine, ref)
    ok = torch.stack([c[0] for c in compared if c is not None], dim=1)  # (T, items), in the loop's order
    relative = torch.stack([c[1] for c in compared if c is not None], dim=1)  # (T, items)
    failed = (~ok).flatten().nonzero()
    if failed.numel() == 0:
        return None, float(relative.max()) if relative.numel() else 0.0
    first = int(failed[0])
    worst = float(relative.flatten()[:first].max()) if first else 0.0
    t, item = divmod(first, len(whats))
    got, expected = series[item][0][t], series[item][1][t]
    return Mismatch(mine.case, t, whats[item], got, expected), worst


def _first_mismatch_stepwise(
    spec: ExerciseSpec, mine: Trajectory, ref: Trajectory
) -> tuple[Mismatch | None, float]:
    """:func:`first_mismatch` one comparison at a time (for memories whose shape changes from step to step)."""
    worst = 0.0
    for t in range(mine.case.T):
        pairs = [(key, mine.states[t][key], ref.states[t][key]) for key in spec.state]
        if spec.has_read:
            pairs.append(("read", mine.reads[t], ref.reads[t]))
        for what, got, expected in pairs:
            result = compare(got, expected, spec.tolerance)
            if not result.ok:
                return Mismatch(mine.case, t, what, got, expected), worst
            worst = max(worst, result.relative_error)
    return None, worst


def shrunk(spec: ExerciseSpec, mismatch: Mismatch, ref: Trajectory, jobs: int) -> CheckResult:
    """The failure on a generated case that :mod:`graders.checks.shrink` minimised (``jobs`` sandbox runs)."""
    result = _failed(spec, mismatch, ref)
    result.message += (
        f" (The grader tried {jobs} small generated sequences on your code and shrank the first failing one to "
        "this smallest case.)"
    )
    assert result.counterexample is not None
    result.counterexample["generated"] = True
    return result


def _failed(spec: ExerciseSpec, mismatch: Mismatch, ref: Trajectory) -> CheckResult:
    points = spec.check_points(CHECK_ID)
    case = mismatch.case
    if case.hidden:
        high = spec.dims["d"][1]
        message = (
            "Your code matches the reference on every visible case but not on a hidden one. Hidden cases are "
            f"longer or use other sizes (d up to {high}): check that nothing in your code assumes a particular d, "
            "a particular length, or small input values."
        )
        return CheckResult(CHECK_ID, False, 0.0, points, message, hidden=True)
    text = _counterexample_text(spec, mismatch, ref)
    what = "read-out" if mismatch.what == "read" else "memory"
    message = f"Your {what} differs from the reference on {case.label}, at step {mismatch.step}. {text}"
    return CheckResult(CHECK_ID, False, 0.0, points, message, counterexample=_counterexample(mismatch, text))


def _counterexample_text(spec: ExerciseSpec, m: Mismatch, ref: Trajectory) -> str:
    case, t = m.case, m.step
    if t < LISTED_STEPS:
        history = "; ".join(f"k_{j} = {fmt(case.K[j])}, v_{j} = {fmt(case.V[j])}" for j in range(t + 1))
        text = f"With d = {case.d}, after {history}"
    else:
        before = ", ".join(f"{key} = {fmt(value)}" for key, value in ref.states[t - 1].items())
        text = (
            f"With d = {case.d}, your memory was still right after step {t - 1} ({before}); "
            f"then after k_{t} = {fmt(case.K[t])}, v_{t} = {fmt(case.V[t])}"
        )
    if m.what == "read":
        return f"{text}, read with q_{t} = {fmt(case.Q[t])} returned {fmt(m.got)} but it should be {fmt(m.expected)}."
    return f'{text}, your memory\'s "{m.what}" is {fmt(m.got)} but it should be {fmt(m.expected)}.'


def _counterexample(m: Mismatch, text: str) -> dict[str, Any]:
    case, t = m.case, m.step
    return {
        "text": text,
        "d": case.d,
        "step": t,
        "k": to_list(case.K[: t + 1]),
        "v": to_list(case.V[: t + 1]),
        "q": to_list(case.Q[t]) if m.what == "read" else None,
        "what": m.what,
        "got": to_list(m.got),
        "expected": to_list(m.expected),
    }


class Correctness:
    """Two jobs, the visible cases then the hidden ones, each case in a fresh module; every state and read-out
    compared with the reference's. A failing visible case is then shrunk (see :func:`_shrink`). Leaves the
    student's trajectories for the checks that replay them (:func:`trajectories`)."""

    id = CHECK_ID
    needs: tuple[str, ...] = ()

    def plan(self, ctx: Context) -> Planned:
        shown, secret = kept_plans(ctx)
        modules = [i for i, call in enumerate(shown.calls) if call.function == "module"]
        probe_end = modules[1] if len(modules) > 1 else len(shown.calls)  # the second visible case's import
        return Planned(answer_parts(shown, secret, probe_end))

    def judge(self, ctx: Context, planned: Planned, outcomes: Mapping[str, JobOutcome]) -> CheckResult:
        spec, prep = ctx.spec, ctx.prep
        started = time.perf_counter()
        cases = prep.shown + ([] if ctx.examples_only else prep.secret)  # a practice run has no hidden job
        mine = [
            trajectory(outcomes["hidden" if c.hidden else "visible"].outputs, spec, c, c.name) for c in cases
        ]
        ctx.notes[CHECK_ID] = mine
        oracle = prep.keep(
            f"{CHECK_ID}/oracle",
            lambda: [reference_trajectory(ctx.model, spec, c) for c in prep.shown + prep.secret],
        )
        result = evaluate(spec, mine, oracle[: len(cases)])
        ctx.timings["reference_s"] = time.perf_counter() - started
        return _shrink(ctx, result)


def kept_plans(ctx: Context) -> tuple[Plan, Plan]:
    """The visible and the hidden job's plans, kept with the exercise. Every call's arguments are saved when
    purity is listed (it compares them with what was passed)."""
    prep, record = ctx.prep, ctx.lists("purity")
    return prep.keep(
        f"{CHECK_ID}/plans",
        lambda: (
            plan_for(ctx.spec, prep.shown, record_args=record),
            plan_for(ctx.spec, prep.secret, record_args=record),
        ),
    )


def trajectories(ctx: Context) -> list[Trajectory]:
    """The student's trajectories of every case, visible then hidden (once correctness was judged)."""
    found: list[Trajectory] = ctx.notes[CHECK_ID]
    return found


def visible_trajectories(ctx: Context) -> list[Trajectory]:
    return trajectories(ctx)[: len(ctx.prep.shown)]


def _shrink(ctx: Context, fixed: CheckResult) -> CheckResult:
    """A visible case failed: look for a smaller failing case and show it instead, if it is no bigger."""
    if fixed.passed or fixed.hidden or fixed.counterexample is None:
        return fixed
    try:  # Hypothesis is in requirements-dev.txt only so far; without it the fixed-case counterexample stands
        from graders.checks import shrink
    except ImportError:
        return fixed
    started = time.perf_counter()
    found = shrink.smallest_failure(ctx.spec, ctx.model, ctx.text, ctx.host)
    ctx.timings["shrink_s"] = time.perf_counter() - started
    if found is None:
        return fixed
    mismatch, jobs = found
    ctx.timings["shrink_jobs"] = jobs
    size = (mismatch.step + 1) * mismatch.case.d  # numbers in the inputs a student must replay
    if size > (fixed.counterexample["step"] + 1) * fixed.counterexample["d"]:
        return fixed
    ref = reference_trajectory(ctx.model, ctx.spec, mismatch.case)
    smaller = shrunk(ctx.spec, mismatch, ref, jobs)
    smaller.plot = fixed.plot  # the trajectory of the visible case stays
    return smaller


CHECK: Check = Correctness()
