"""``causality`` (sequence interface): output row i ignores every input after position i.

For a few visible cases and cut points p, the grader changes every query, key and value after p (fresh values,
shifted so that they really differ) and runs ``attend`` on both versions in one sandbox job. Rows 0..p must be
the same, within the exercise's tolerance; the first row that moved is the counterexample, shown with the cut.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from graders.cases import Case
from graders.checks.api import Check, Context, Part, Planned
from graders.checks.common import compare, fmt, to_list
from graders.exercise import ExerciseSpec
from graders.plan import Plan
from graders.report import CheckResult
from graders.sandbox.outcome import JobOutcome

CHECK_ID = "causality"
SHIFT = 2.0  # added to the replacement values, so that no replaced row can equal the original by chance


@dataclass(frozen=True)
class Probe:
    case: Case  # the original
    cut: int  # rows 0..cut keep their inputs; every row after it is replaced
    changed: Case  # the same case with rows cut+1.. replaced

    @property
    def base_save(self) -> str:
        return f"cz/{self.case.name}/y"

    @property
    def changed_save(self) -> str:
        return f"cz/{self.changed.name}/y"


def probes(spec: ExerciseSpec, cases: list[Case]) -> list[Probe]:
    """Cuts at the first row and in the middle of every visible case with at least two rows."""
    gen = torch.Generator().manual_seed(spec.seed + 4)
    found = []
    for case in cases:
        if case.hidden or case.T < 2:
            continue
        for cut in sorted({0, (case.T - 1) // 2}):
            found.append(Probe(case, cut, _replaced_after(case, cut, gen)))
    return found


def _replaced_after(case: Case, cut: int, gen: torch.Generator) -> Case:
    def replace(x: torch.Tensor) -> torch.Tensor:
        fresh = torch.randn(x.shape, generator=gen, dtype=torch.float64) + SHIFT  # (T, d)
        y = x.clone()
        y[cut + 1 :] = (fresh[cut + 1 :] * 100).round().div(100).to(x.dtype)
        return y

    label = f"{case.label} with every input after position {cut} replaced"
    return Case(f"{case.name}x{cut}", label, case.d, replace(case.K), replace(case.V), replace(case.Q))


def plan_for(spec: ExerciseSpec, found: list[Probe]) -> Plan:
    """Per case: a fresh module, ``attend`` on the original, then on each of its changed versions."""
    plan = Plan(spec)
    done: set[str] = set()
    for probe in found:
        if probe.case.name not in done:
            done.add(probe.case.name)
            plan.module()
            plan.attend(probe.case, probe.base_save)
        plan.attend(probe.changed, probe.changed_save)
    return plan


def evaluate(spec: ExerciseSpec, found: list[Probe], outputs: dict[str, torch.Tensor]) -> CheckResult:
    points = spec.check_points(CHECK_ID)
    for probe in found:
        before, after = outputs[probe.base_save], outputs[probe.changed_save]
        for i in range(probe.cut + 1):
            if not compare(after[i], before[i], spec.tolerance).ok:
                return _failed(spec, probe, i, before[i], after[i])
    message = (
        f"Changing every input after a position never changed an output at or before it "
        f"({len(found)} cuts on {len({p.case.name for p in found})} sequences): your attend is causal."
    )
    return CheckResult(CHECK_ID, True, points, points, message)


def _failed(
    spec: ExerciseSpec, probe: Probe, row: int, before: torch.Tensor, after: torch.Tensor
) -> CheckResult:
    case, cut = probe.case, probe.cut
    params = "".join(f", {name} = {value:g}" for name, value in spec.params.items())
    replaced = f"k_{cut + 1}, v_{cut + 1}, q_{cut + 1}" + (
        " and every later input" if cut + 2 < case.T else ""
    )
    text = (
        f"On {case.label} (d = {case.d}{params}), y_{row} was {fmt(before)}. Then only the inputs after "
        f"position {cut} changed ({replaced}; for example k_{cut + 1} became {fmt(probe.changed.K[cut + 1])}), "
        f"and y_{row} became {fmt(after)}."
    )
    message = (
        f"Your output at row {row} depends on inputs after it, so your attention looks into the future. {text} "
        f"The output at position i may use only positions j ≤ i: check the mask, or the end of the window."
    )
    counterexample: dict[str, Any] = {
        "text": text,
        "d": case.d,
        "cut": cut,
        "row": row,
        "before": to_list(before),
        "after": to_list(after),
    }
    return CheckResult(
        CHECK_ID, False, 0.0, spec.check_points(CHECK_ID), message, counterexample=counterexample
    )


class Causality:
    """A job of its own: each visible case beside copies whose later inputs were replaced."""

    id = CHECK_ID
    needs: tuple[str, ...] = ()

    def plan(self, ctx: Context) -> Planned:
        spec, shown = ctx.spec, ctx.prep.shown
        found, plan = ctx.prep.keep(CHECK_ID, lambda: _probed(spec, shown))
        return Planned([Part(CHECK_ID, plan)], found)

    def judge(self, ctx: Context, planned: Planned, outcomes: Mapping[str, JobOutcome]) -> CheckResult:
        return evaluate(ctx.spec, planned.data, outcomes[CHECK_ID].outputs)


def _probed(spec: ExerciseSpec, shown: list[Case]) -> tuple[list[Probe], Plan]:
    found = probes(spec, shown)
    return found, plan_for(spec, found)


CHECK: Check = Causality()
