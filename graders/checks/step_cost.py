"""The ``step_cost`` check: the work of one ``update`` does not grow with the step ``i``.

It shares the ``state_size`` job's sequence of ``T = 8n`` steps (so it costs no extra sandbox start) and measures
the work of the updates three ways:

* ``ops``: the torch functions and tensor methods each call used (deterministic), counted in the child (see
  :mod:`graders.sandbox.child.schedule`);
* ``elements``: elements of the tensors those calls created, minus those of the memory the call returned. A
  secret growing history (``torch.stack`` of every pair seen, kept at module level) inflates it even where the op
  count stays flat; the memory's own growth is left to ``state_size``, whose job it is;
* ``cpu``: CPU time measured by the parent side, not by the student's process: before the first update and after
  the first ``N = n, 2n, 4n, 8n`` updates the runner stops and the supervisor reads the runner's kernel CPU clock
  (:class:`graders.sandbox.child.supervisor.CpuMarks`). Judged only when the run is long enough to time (tens of
  ms); a run whose marks did not all come back is not timed.

With ``W(N)`` the work of the first ``N`` steps, a fixed cost per step gives ``W(N) ∝ N`` and cost growing
linearly with ``i`` gives ``W(N) ∝ N²``. The check fits ``W(N) ∝ N^p`` from the mean cost per step over the
windows between ``N = n, 2n, 4n, 8n`` (``T = 8n``; the first ``n`` steps are warm-up) and asks that ``p`` stay
near 1 between every two windows, not only on average ("for the whole run"); see :func:`growth`.

The counts come from the student's own process, so they are advisory: a submission that hides its work from
the counter is not caught by them (the CPU time, its values, state and purity are still judged).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

from graders.checks import state_size
from graders.checks.api import PROPERTIES, Check, Context, Part, Planned
from graders.exercise import ExerciseSpec
from graders.plan import Plan
from graders.plot_data import cost_plot
from graders.report import CheckResult, not_judged
from graders.sandbox.outcome import JobOutcome

CHECK_ID = "step_cost"
COUNT = (
    "cost"  # the child saves its numbers under cost/ops, cost/elements, cost/state (and cost/cpu_ns, unused)
)
MARKS = 4  # N = T/8, T/4, T/2, T
LIMIT = {"ops": 1.25, "elements": 1.25, "cpu": 1.75}  # the largest exponent per doubling
MIN_TIMED_S = 0.05  # below this the CPU time of the whole run is fork and cache noise
MIN_FIRST_S = 0.01  # ... and so is the first fitted window's (steps n to 2n), below this


@dataclass(frozen=True)
class CostPlan:
    plan: Plan
    steps: int
    d: int


@dataclass(frozen=True)
class Growth:
    """Cumulative work ``totals[j] = W(marks[j])`` and the exponents of ``W(N) ∝ N^p`` fitted to it."""

    marks: tuple[int, ...]
    totals: tuple[float, ...]
    fitted: float  # 1 + least-squares slope of log(cost per step) against log(step), over the windows
    worst: float  # the largest such exponent between two consecutive windows


def plan_for(size_plan: Plan, steps: int, d: int) -> CostPlan:
    """The ``state_size`` run (``steps`` updates on one sequence of size ``d``) with every update counted and the
    runner's CPU clock read at the marks."""
    return CostPlan(size_plan.counting(COUNT, marks_for(steps)), steps, d)


def marks_for(steps: int) -> tuple[int, ...]:
    return tuple(steps >> (MARKS - 1 - j) for j in range(MARKS))


def growth(per_step: list[float], marks: tuple[int, ...]) -> Growth:
    """Fit ``W(N) ∝ N^p`` to the work ``per_step`` over the windows between consecutive ``marks``.

    The first ``marks[0]`` steps are the warm-up (a window filling, first-call costs) and are left out of the
    fit: with ``m_j`` the mean cost per step over ``(N_j, N_{j+1}]``, a per-step cost ``∝ i^q`` gives
    ``m_{j+1} / m_j = 2^q`` and ``W(N) ∝ N^{1+q}``, so ``p_j = 1 + log2(m_{j+1} / m_j)``. A cost that steps up
    once (extra work from step 64 on) gives ``p = 1`` once it is past, unlike a cost that keeps growing.
    """
    return growth_of_totals(tuple(float(sum(per_step[:n])) for n in marks), marks)


def growth_of_totals(totals: tuple[float, ...], marks: tuple[int, ...]) -> Growth:
    """:func:`growth` from the cumulative work ``totals[j] = W(marks[j])`` itself (what the CPU marks give)."""
    means = [(totals[j + 1] - totals[j]) / (marks[j + 1] - marks[j]) for j in range(len(marks) - 1)]
    middles = [(marks[j + 1] + marks[j]) / 2 for j in range(len(marks) - 1)]
    worst = max(1 + _slope(middles[j], means[j], middles[j + 1], means[j + 1]) for j in range(len(means) - 1))
    if all(m > 0 for m in means):
        xs = [math.log(x) for x in middles]
        ys = [math.log(m) for m in means]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
        fitted = 1 + slope
    else:
        fitted = worst
    return Growth(marks, totals, fitted, worst)


def _slope(x0: float, y0: float, x1: float, y1: float) -> float:
    if y0 <= 0:  # no work at first: flat if there is still none, unbounded growth otherwise
        return 0.0 if y1 <= 0 else math.inf
    return math.log(y1 / y0) / math.log(x1 / x0)


def measures(outcome: JobOutcome, steps: int) -> dict[str, list[float]] | None:
    """The per-step numbers the child sent, or None when they are missing or malformed (they are the student's
    bytes: only the honest counter's exact shape is accepted)."""
    columns: dict[str, torch.Tensor] = {}
    for name in ("ops", "elements", "state"):
        t = outcome.outputs.get(f"{COUNT}/{name}")
        if t is None or t.dtype != torch.int64 or tuple(t.shape) != (steps,) or bool((t < 0).any()):
            return None
        columns[name] = t
    excess = (columns["elements"] - columns["state"]).clamp(min=0)  # work beyond building the returned memory
    return {
        "ops": [float(x) for x in columns["ops"].tolist()],
        "elements": [float(x) for x in excess.tolist()],
    }


def evaluate(
    spec: ExerciseSpec,
    cp: CostPlan,
    outcome: JobOutcome,
    again: Callable[[], JobOutcome | None] | None = None,
) -> CheckResult:
    """Judge the long run in ``outcome``. When only its CPU time grew (the counts were flat), ``again`` runs the
    long run once more and that run decides: CPU time is the one measure another process can disturb (a busy
    core, a frequency change slows one window), while a cost that really grows with the step grows every time.
    ``again`` returns None when the second run did not finish normally; the first run's judgement stands then."""
    points = spec.check_points(CHECK_ID)
    numbers = measures(outcome, cp.steps)
    if numbers is None:
        message = (
            "The work of your update could not be measured: the counts of one long run did not come back. "
            "This happens when code changes the grader's view of torch (its function-mode stack, "
            "sys.modules entries): keep update to plain tensor operations."
        )
        return CheckResult(CHECK_ID, False, 0.0, points, message)
    marks = marks_for(cp.steps)
    fits = {name: growth(values, marks) for name, values in numbers.items()}
    timed, timing = _timing(outcome.cpu_marks_ns, marks)
    if timing is not None:
        fits["cpu"] = timing
    over = [name for name, fit in fits.items() if not (fit.worst <= LIMIT[name])]  # NaN/inf fail
    if over == ["cpu"] and again is not None and (second := again()) is not None:
        confirmed = evaluate(spec, cp, second)
        if not confirmed.passed:
            confirmed.message += " A second run of the same steps grew the same way."
        return confirmed
    plot = cost_plot(
        "Work of update over the first n steps of one sequence",
        "steps n",
        list(marks),
        {_LEGEND[name]: fit.totals for name, fit in fits.items()},
        1.0,
    )
    result = _result(spec, cp, fits, marks, over, timed)
    result.plot = plot
    return result


_LEGEND = {"ops": "torch operations", "elements": "tensor elements", "cpu": "CPU seconds"}


def _result(
    spec: ExerciseSpec,
    cp: CostPlan,
    fits: dict[str, Growth],
    marks: tuple[int, ...],
    over: list[str],
    timed: str,
) -> CheckResult:
    points = spec.check_points(CHECK_ID)
    if not over:
        message = (
            f"The work of your update does not grow with the step: over one sequence of {cp.steps} steps "
            f"(d = {cp.d}) the torch operations it ran grew as steps^{fits['ops'].fitted:.2f} and the elements "
            f"of the tensors it created as steps^{fits['elements'].fitted:.2f} (a fixed cost per step gives 1). "
            f"{timed}"
        )
        return CheckResult(CHECK_ID, True, points, points, message)
    worst = fits[over[0]]
    counterexample = _evidence(fits, marks) | {
        "text": f"Work ({over[0]}) over the first {', '.join(map(str, marks))} steps: "
        + ", ".join(_amount(over[0], w) for w in worst.totals)
        + "."
    }
    message = (
        f"Each call of update should cost the same whatever the step i, but yours does more work the longer the "
        f"sequence: on one sequence of {cp.steps} steps (d = {cp.d}), {_WHAT[over[0]]} totalled "
        f"{_amount(over[0], worst.totals[0])} over the first {marks[0]} steps and "
        f"{_amount(over[0], worst.totals[-1])} over all {marks[-1]}, which grows as steps^{worst.fitted:.2f} "
        f"(up to steps^{worst.worst:.2f} between two lengths; a fixed cost per step gives 1). {timed} Look for "
        "something that grows with every call: a list kept at module level, a loop over everything seen so far, "
        "a torch.stack or torch.cat of a history. Mem_i needs only Mem_{i-1} and (k_i, v_i)."
    )
    return CheckResult(CHECK_ID, False, 0.0, points, message, counterexample=counterexample)


_WHAT = {
    "ops": "the torch operations your update ran",
    "elements": "the elements of the tensors your update created (beyond the memory it returned)",
    "cpu": "the CPU time of your update",
}


def _timing(readings_ns: list[int], marks: tuple[int, ...]) -> tuple[str, Growth | None]:
    """The CPU-time fit from the supervisor's readings when it can be trusted, with a sentence for the student."""
    if len(readings_ns) != len(marks) + 1:
        return "Its CPU time was not judged (the run's CPU readings did not all come back).", None
    totals = tuple((ns - readings_ns[0]) / 1e9 for ns in readings_ns[1:])  # W(N) for N in marks
    total, first = totals[-1], totals[1] - totals[0]  # the first window the fit uses: steps n to 2n
    if total < MIN_TIMED_S or first < MIN_FIRST_S:
        span = f"{first * 1000:.0f} ms for steps {marks[0] + 1} to {marks[1]}"
        return (
            f"Its CPU time ({total * 1000:.0f} ms for all steps, {span}) is too short to time reliably.",
            None,
        )
    fit = growth_of_totals(totals, marks)
    return (
        f"Its CPU time ({total * 1000:.0f} ms in all, measured outside your code) grew as steps^{fit.fitted:.2f}.",
        fit,
    )


def _amount(measure: str, value: float) -> str:
    return f"{value * 1000:.1f} ms" if measure == "cpu" else f"{value:.0f}"


def _evidence(fits: dict[str, Growth], marks: tuple[int, ...]) -> dict[str, object]:
    """The numbers behind a failure (for a cost-vs-length plot): cumulative work at each length."""
    return {
        "steps": list(marks),
        "work": {name: [round(w, 6) for w in fit.totals] for name, fit in fits.items()},
        "exponent": {name: _finite(fit.fitted) for name, fit in fits.items()},
        "worst_exponent": {name: _finite(fit.worst) for name, fit in fits.items()},
    }


def _finite(x: float) -> float | None:
    return round(x, 3) if math.isfinite(x) else None  # JSON has no infinity


class StepCost:
    """state_size's long run with every update counted (one run for both); judged once correctness passed, and a
    CPU time that grew is confirmed by running the long run once more on its own."""

    id = CHECK_ID
    needs: tuple[str, ...] = ()

    def plan(self, ctx: Context) -> Planned:
        sp = state_size.size_plan(ctx)
        cp = ctx.prep.keep(CHECK_ID, lambda: plan_for(sp.plan, sp.case.T, sp.case.d))
        return Planned([Part(PROPERTIES, cp.plan, share=state_size.LONG_RUN, fragile=True)], cp)

    def judge(self, ctx: Context, planned: Planned, outcomes: Mapping[str, JobOutcome]) -> CheckResult:
        if not ctx.outputs_right():  # the cost of wrong outputs says nothing
            return not_judged(CHECK_ID, ctx.spec.check_points(CHECK_ID))
        cp: CostPlan = planned.data
        return evaluate(ctx.spec, cp, outcomes[PROPERTIES], again=lambda: ctx.rerun(cp.plan, CHECK_ID))


CHECK: Check = StepCost()
