"""The ``recurrence`` check: ``Mem_i`` depends only on ``Mem_{i-1}`` and ``(k_i, v_i)``.

(a) Replay: the student's own ``Mem_{i-1}`` from the correctness run and ``(k_i, v_i)`` go to a *fresh* forked
process (this job's first call), which must return the same ``Mem_i`` as the original run.
(b) Interleave: two independent sequences of the same size, stepped alternately with one module instance, must
each give what the same code gave for them alone. Both compare the student with the student, not with the
reference, so a wrong but honest recurrence still passes here.
(c) Substitution (:mod:`graders.checks.substitution`): from a reference-built memory of another history, the
output must be the reference's ``f`` of it; planned only when ``correctness`` passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graders.cases import Case
from graders.checks import correctness, substitution
from graders.checks.api import PROPERTIES, Check, Context, Part, Planned
from graders.checks.common import compare, fmt, to_list
from graders.exercise import ExerciseSpec
from graders.plan import Plan, Trajectory, trajectory
from graders.report import CheckResult
from graders.sandbox.outcome import JobOutcome
from reference import ModelSpec

CHECK_ID = "recurrence"
REPLAY_STEP = 5
ADVICE = (
    "Your function must compute the new memory only from `mem`, `k` and `v`{also} — it seems to keep something "
    "outside `mem` (a module-level list, a global counter or a cache). Put everything the next step needs into "
    "the returned dict."
)


@dataclass(frozen=True)
class RecurrencePlan:
    plan: Plan
    replay: Trajectory  # the solo run whose step ``step`` is replayed
    step: int
    pair: tuple[Trajectory, Trajectory] | None  # the two solo runs that are interleaved
    substitution: substitution.Substitution | None = None


def plan_for(spec: ExerciseSpec, solo: list[Trajectory], model: ModelSpec | None = None) -> RecurrencePlan:
    """Replay one step of the longest visible case, interleave two visible cases with the same d, then (given
    the ``model``, once correctness passed) substitute a reference-built memory before the replayed step."""
    plan = Plan(spec)
    replay = max(solo, key=lambda tr: tr.case.T)
    step = min(REPLAY_STEP, replay.case.T - 1)
    plan.module()  # first call in a freshly forked process: nothing the original run kept can be here
    plan.load_state("replay", "replay/prev", replay.states[step - 1])
    plan.steps("replay", replay.case, step, "replay")
    pair = _same_size_pair(solo)
    if pair is not None:
        a, b = pair
        plan.module()
        plan.init("A", a.case, "ia/init")
        plan.init("B", b.case, "ib/init")
        for t in range(max(a.case.T, b.case.T)):
            if t < a.case.T:
                plan.steps("A", a.case, t, "ia")
            if t < b.case.T:
                plan.steps("B", b.case, t, "ib")
    sub = substitution.plan_into(plan, model, replay.case, step) if model is not None else None
    return RecurrencePlan(plan, replay, step, pair, sub)


def _same_size_pair(solo: list[Trajectory]) -> tuple[Trajectory, Trajectory] | None:
    usable = [tr for tr in solo if tr.case.T >= 2]
    for i, a in enumerate(usable):
        for b in usable[i + 1 :]:
            if a.case.d == b.case.d:
                return a, b
    return None


def evaluate(spec: ExerciseSpec, rp: RecurrencePlan, outcome: JobOutcome) -> CheckResult:
    points = spec.check_points(CHECK_ID)
    failure = _replay_failure(spec, rp, outcome) or _interleave_failure(spec, rp, outcome)
    if failure is None and rp.substitution is not None:
        failure = substitution.failure(spec, rp.substitution, outcome.outputs)
    if failure is not None:
        message, counterexample = failure
        return CheckResult(CHECK_ID, False, 0.0, points, message, counterexample=counterexample)
    message = (
        "Mem_i depends only on Mem_{i-1} and (k_i, v_i): a step replayed in a fresh process gave the same memory, "
        "and two sequences stepped alternately in one process each matched their runs on their own"
    )
    if rp.substitution is not None:
        message += "; from a memory built from another sequence, your update gave f of that memory."
    else:
        message += " (the memory-substitution test runs once your memory matches the reference)."
    return CheckResult(CHECK_ID, True, points, points, message)


def _replay_failure(
    spec: ExerciseSpec, rp: RecurrencePlan, outcome: JobOutcome
) -> tuple[str, dict[str, Any]] | None:
    i, case = rp.step, rp.replay.case
    outputs = outcome.outputs
    pairs = [(key, outputs[f"replay/m/{i}/{key}"], rp.replay.states[i][key]) for key in spec.state]
    if spec.has_read:
        pairs.append(("read", outputs[f"replay/r/{i}"], rp.replay.reads[i]))
    for what, replayed, original in pairs:
        if compare(replayed, original, spec.tolerance).ok:
            continue
        returned = (
            f"read returned a different value for q_{i}"
            if what == "read"
            else f"it returned a different Mem_{i}"
        )
        message = (
            f"Your update is not a recurrence: replayed in a fresh process from the same Mem_{i - 1} and "
            f"(k_{i}, v_{i}), {returned}. "
            + ADVICE.format(also=" (and `read` only from `mem` and `q`)" * spec.has_read)
        )
        before = ", ".join(f"{key} = {fmt(value)}" for key, value in rp.replay.states[i - 1].items())
        text = (
            f"From Mem_{i - 1} ({before}) with k_{i} = {fmt(case.K[i])}, v_{i} = {fmt(case.V[i])}: "
            f'"{what}" was {fmt(original)} in the first run but {fmt(replayed)} when replayed.'
        )
        counterexample = {
            "text": text,
            "step": i,
            "what": what,
            "first_run": to_list(original),
            "replayed": to_list(replayed),
        }
        return message, counterexample
    return None


def _interleave_failure(
    spec: ExerciseSpec, rp: RecurrencePlan, outcome: JobOutcome
) -> tuple[str, dict[str, Any]] | None:
    if rp.pair is None:
        return None
    for name, prefix, solo in (("A", "ia", rp.pair[0]), ("B", "ib", rp.pair[1])):
        together = trajectory(outcome.outputs, spec, solo.case, prefix)
        step, what = _first_difference(spec, together, solo)
        if step is None:
            continue
        d = solo.case.d
        message = (
            f"Your update is not a recurrence: two independent sequences (both with d = {d}) were stepped "
            f"alternately in one process (A's step 0, B's step 0, A's step 1, …), and sequence {name}'s "
            f"{'read-out' if what == 'read' else 'memory'} after step {step} differed from what your code computed "
            f"for the same sequence on its own. " + ADVICE.format(also="")
        )
        got = together.reads[step] if what == "read" else together.states[step][what]
        alone = solo.reads[step] if what == "read" else solo.states[step][what]
        text = f'Sequence {name} ({_describe(solo.case)}), step {step}: "{what}" was {fmt(alone)} alone but {fmt(got)} interleaved.'
        return message, {
            "text": text,
            "step": step,
            "what": what,
            "alone": to_list(alone),
            "interleaved": to_list(got),
        }
    return None


def _first_difference(spec: ExerciseSpec, together: Trajectory, solo: Trajectory) -> tuple[int | None, str]:
    for t in range(solo.case.T):
        for key in spec.state:
            if not compare(together.states[t][key], solo.states[t][key], spec.tolerance).ok:
                return t, key
        if spec.has_read and not compare(together.reads[t], solo.reads[t], spec.tolerance).ok:
            return t, "read"
    return None, ""


def _describe(case: Case) -> str:
    return f"{case.label}, T = {case.T}"


class Recurrence:
    """Needs correctness's trajectories (it replays them); runs in the shared properties job, first, since its
    replay must be the first call after the fork."""

    id = CHECK_ID
    needs: tuple[str, ...] = ("correctness",)

    def plan(self, ctx: Context) -> Planned:
        right = ctx.results.get("correctness")
        model = ctx.model if right is not None and right.passed else None  # substitution once it is right
        rp = plan_for(ctx.spec, correctness.visible_trajectories(ctx), model)
        return Planned([Part(PROPERTIES, rp.plan)], rp)

    def judge(self, ctx: Context, planned: Planned, outcomes: Mapping[str, JobOutcome]) -> CheckResult:
        return evaluate(ctx.spec, planned.data, outcomes[PROPERTIES])


CHECK: Check = Recurrence()
