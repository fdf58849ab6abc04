"""The ``purity`` check: ``update`` and ``read`` change none of their arguments, and the same call twice gives the
same result.

The child is untrusted, so it only reports: one fresh process calls ``update(mem, k, v)`` from the student's own
``Mem_{i-1}`` (of the correctness run) and sends back the outputs *and* the arguments as the call left them (the
dict's tensors, ``k``, ``v``); then it calls ``update`` again on fresh copies of the same arguments. ``read`` is
probed the same way from the student's ``Mem_i``. The parent compares the arguments byte for byte with what it
sent, and the two results with the tolerance of the exercise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from graders.checks import correctness
from graders.checks.api import PROPERTIES, Check, Context, Part, Planned
from graders.checks.common import compare, fmt, to_list
from graders.exercise import ExerciseSpec
from graders.plan import Plan, State, Trajectory
from graders.report import CheckResult
from graders.sandbox.outcome import JobOutcome, under

CHECK_ID = "purity"
PROBE_STEP = 3  # a step with a nonzero memory, so that writing into it changes its bytes
ADVICE_MEM = (
    'Build new tensors (`mem["{key}"] + x`, not `mem["{key}"] += x`, `.add_()` or slice assignment) and return '
    "a new dict: whoever called `{function}` may still need the old memory (to retry a step, or to branch)."
)


@dataclass(frozen=True)
class PurityPlan:
    plan: Plan
    source: Trajectory  # the solo run whose step ``step`` is probed
    step: int


def plan_for(spec: ExerciseSpec, solo: list[Trajectory]) -> PurityPlan:
    """Probe step ``PROBE_STEP`` (or the last one) of the longest visible case, twice each call."""
    source = max(solo, key=lambda tr: tr.case.T)
    case, i = source.case, min(PROBE_STEP, source.case.T - 1)
    plan = Plan(spec)
    plan.module()
    before = source.states[i - 1] if i > 0 else None
    for n in (1, 2):
        if before is None:
            plan.init("p", case, f"purity/init{n}")
        else:
            plan.load_state("p", "purity/prev", before)
        plan.update("p", case, i, f"purity/m{n}", after="purity/after-update" if n == 1 else None)
    if spec.has_read:
        for n in (1, 2):
            plan.load_state("p", "purity/cur", source.states[i])
            plan.read("p", case, i, f"purity/r{n}", after="purity/after-read" if n == 1 else None)
    return PurityPlan(plan, source, i)


def evaluate(
    spec: ExerciseSpec,
    pp: PurityPlan,
    outcome: JobOutcome,
    recorded: Sequence[tuple[Trajectory, dict[str, torch.Tensor]]] = (),
) -> CheckResult:
    """The probes of the purity job, then the arguments every call of the correctness runs left behind."""
    points = spec.check_points(CHECK_ID)
    failure = _update_failure(spec, pp, outcome.outputs) or _read_failure(spec, pp, outcome.outputs)
    if failure is not None:
        message, counterexample = failure
        case = pp.source.case
        counterexample["text"] = f"On {case.label} (d = {case.d}): {counterexample['text']}"
        return CheckResult(CHECK_ID, False, 0.0, points, message, counterexample=counterexample)
    for trajectory, outputs in recorded:
        found = _recorded_failure(spec, trajectory, outputs)
        if found is None:
            continue
        message, counterexample = found
        case = trajectory.case
        if case.hidden:  # the arguments would show the hidden inputs
            message = message.split(". ")[0] + ", on a hidden test case. " + ADVICE_HIDDEN
            return CheckResult(CHECK_ID, False, 0.0, points, message, hidden=True)
        counterexample["text"] = f"On {case.label} (d = {case.d}): {counterexample['text']}"
        return CheckResult(CHECK_ID, False, 0.0, points, message, counterexample=counterexample)
    functions = "`update` and `read`" if spec.has_read else "`update`"
    message = (
        f"{functions} left the memory and the inputs they were given unchanged (compared byte for byte), "
        "and calling them twice with the same arguments gave the same result."
    )
    return CheckResult(CHECK_ID, True, points, points, message)


ADVICE_HIDDEN = "Change nothing you are given: build new tensors and return a new dict."


def _recorded_failure(
    spec: ExerciseSpec, mine: Trajectory, outputs: dict[str, torch.Tensor]
) -> tuple[str, dict[str, Any]] | None:
    """Every update and read of one correctness run against what it was given (when the run recorded them)."""
    case, name = mine.case, mine.case.name
    if f"{name}/a/0/k" not in outputs:  # this run did not record its arguments
        return None
    for t in range(case.T):
        before = mine.states[t - 1] if t > 0 else _returned_state(spec, outputs, f"{name}/init")
        where = f"update(Mem_{t - 1}, k_{t}, v_{t})"
        changed = _changed_args(before, {"k": case.K[t], "v": case.V[t]}, outputs, f"{name}/a/{t}")
        if changed is not None:
            return _mutation(where, "update", changed)
        if spec.has_read:
            changed = _changed_args(mine.states[t], {"q": case.Q[t]}, outputs, f"{name}/ar/{t}")
            if changed is not None:
                return _mutation(f"read(Mem_{t}, q_{t})", "read", changed)
    return None


def _update_failure(
    spec: ExerciseSpec, pp: PurityPlan, outputs: dict[str, torch.Tensor]
) -> tuple[str, dict[str, Any]] | None:
    i, case = pp.step, pp.source.case
    before: State = pp.source.states[i - 1] if i > 0 else _returned_state(spec, outputs, "purity/init1")
    where = f"update(Mem_{i - 1}, k_{i}, v_{i})"
    changed = _changed_args(before, {"k": case.K[i], "v": case.V[i]}, outputs, "purity/after-update")
    if changed is not None:
        return _mutation(where, "update", changed)
    first = _returned_state(spec, outputs, "purity/m1")
    second = _returned_state(spec, outputs, "purity/m2")
    for key in spec.state:
        if not compare(second[key], first[key], spec.tolerance).ok:
            return _not_repeatable(where, f'the memory\'s "{key}"', first[key], second[key])
    return None


def _read_failure(
    spec: ExerciseSpec, pp: PurityPlan, outputs: dict[str, torch.Tensor]
) -> tuple[str, dict[str, Any]] | None:
    if not spec.has_read:
        return None
    i, case = pp.step, pp.source.case
    where = f"read(Mem_{i}, q_{i})"
    changed = _changed_args(pp.source.states[i], {"q": case.Q[i]}, outputs, "purity/after-read")
    if changed is not None:
        return _mutation(where, "read", changed)
    first, second = outputs["purity/r1"], outputs["purity/r2"]
    if not compare(second, first, spec.tolerance).ok:
        return _not_repeatable(where, "the read-out", first, second)
    return None


@dataclass(frozen=True)
class Changed:
    name: str  # 'mem["M"]', "k", …
    sent: torch.Tensor | None  # None: an entry the call added to the dict
    after: torch.Tensor | None  # None: the entry was removed or replaced by something that is not a tensor


def _changed_args(
    mem: State, args: dict[str, torch.Tensor], outputs: dict[str, torch.Tensor], prefix: str
) -> Changed | None:
    """The first argument whose bytes differ after the call from what the parent sent (or added to ``mem``)."""
    sent = {f'mem["{key}"]': t for key, t in mem.items()} | args
    after = {_arg_name(name): t for name, t in under(outputs, prefix).items()}
    for name, tensor in sent.items():
        if name not in after or not _same_bytes(tensor, after[name]):
            return Changed(name, tensor, after.get(name))
    added = sorted(set(after) - set(sent))
    return Changed(added[0], None, after[added[0]]) if added else None


def _arg_name(saved: str) -> str:
    return f'mem["{saved[len("mem/") :]}"]' if saved.startswith("mem/") else saved


def _same_bytes(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Same dtype, shape and bytes (so -0.0 ≠ 0.0 and a NaN equals itself: the argument is exactly as sent)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    raw_a = a.detach().contiguous().reshape(-1).view(torch.uint8)
    raw_b = b.detach().contiguous().reshape(-1).view(torch.uint8)
    return bool(torch.equal(raw_a, raw_b))


def _mutation(where: str, function: str, c: Changed) -> tuple[str, dict[str, Any]]:
    if c.sent is None:
        what = f"added the entry {c.name} to the dict `mem` it was given"
        text = f"After {where}, `mem` had a new entry {c.name}."
    elif c.after is None:
        what = (
            f"removed {c.name} from the dict it was given, or replaced it by something that is not a tensor"
        )
        text = f"After {where}, {c.name} was gone."
    else:
        what = (
            f"changed {c.name} of the memory it was given (in place, or by storing into the dict)"
            if c.name.startswith("mem[")
            else f"changed its argument {c.name} in place"
        )
        text = f"{c.name} was {fmt(c.sent)} before {where} and {fmt(c.after)} after it."
    key = c.name[len('mem["') : -2] if c.name.startswith("mem[") else c.name
    advice = (
        ADVICE_MEM.format(key=key, function=function)
        if c.name.startswith("mem[")
        else f"Do not write into `{c.name}` (no `{c.name} += …`, `{c.name}.mul_()` or slice assignment): "
        "the caller passes the same tensor on to other code."
    )
    message = f"Your `{function}` {what}. {advice}"
    counterexample = {
        "text": text,
        "argument": c.name,
        "before": None if c.sent is None else to_list(c.sent),
        "after": None if c.after is None else to_list(c.after),
    }
    return message, counterexample


def _not_repeatable(
    where: str, what: str, first: torch.Tensor, second: torch.Tensor
) -> tuple[str, dict[str, Any]]:
    message = (
        f"Calling {where} twice with the same arguments gave two different results ({what} differs). A memory "
        "update must be a function of its arguments: no randomness, no counter or cache kept between calls."
    )
    text = f"{where}: {what} was {fmt(first)} the first time and {fmt(second)} the second time."
    return message, {"text": text, "first": to_list(first), "second": to_list(second)}


def _returned_state(spec: ExerciseSpec, outputs: dict[str, torch.Tensor], save: str) -> State:
    return {key: outputs[f"{save}/{key}"] for key in spec.state}


class Purity:
    """Probes in the shared properties job, then the arguments every call of correctness's jobs left behind."""

    id = CHECK_ID
    needs: tuple[str, ...] = ("correctness",)

    def plan(self, ctx: Context) -> Planned:
        pp = plan_for(ctx.spec, correctness.visible_trajectories(ctx))
        return Planned([Part(PROPERTIES, pp.plan)], pp)

    def judge(self, ctx: Context, planned: Planned, outcomes: Mapping[str, JobOutcome]) -> CheckResult:
        recorded = [
            (tr, outcomes["hidden" if tr.case.hidden else "visible"].outputs)
            for tr in correctness.trajectories(ctx)
        ]
        return evaluate(ctx.spec, planned.data, outcomes[PROPERTIES], recorded)


CHECK: Check = Purity()
