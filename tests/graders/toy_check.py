"""A toy check, the one file a new check is (docs/EXTENDING.md): ``first_step``, the memory after the first step
of the longest visible case matches the reference's, run in a sandbox job of its own. Registered by
tests/graders/test_check_registry.py only; nothing else in memlab knows it."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from graders.checks.api import Check, Context, Part, Planned
from graders.checks.common import compare
from graders.plan import Plan
from graders.report import CheckResult
from graders.sandbox.outcome import JobOutcome

CHECK_ID = "first_step"
JOB = "first-step"


class FirstStep:
    id = CHECK_ID
    needs: tuple[str, ...] = ()

    def plan(self, ctx: Context) -> Planned:
        case = max(ctx.prep.shown, key=lambda c: c.T)
        plan = Plan(ctx.spec)
        plan.module()
        plan.init("toy", case, "toy/init")
        plan.update("toy", case, 0, "toy/m/0")  # its layout is checked by the interface schema check
        return Planned([Part(JOB, plan)], case)

    def judge(self, ctx: Context, planned: Planned, outcomes: Mapping[str, JobOutcome]) -> CheckResult:
        spec, model, case = ctx.spec, ctx.model, planned.data
        points = spec.check_points(CHECK_ID)
        empty = model.init(case.d, dtype=torch.float64, **spec.params)
        expected = model.step(empty, case.K[0].double(), case.V[0].double(), **spec.params)
        saved = outcomes[JOB].outputs
        wrong = [
            key
            for key in spec.state
            if not compare(saved[f"toy/m/0/{key}"], expected[key], spec.tolerance).ok
        ]
        if wrong:
            message = f"After the first step of {case.label}, {', '.join(wrong)} differed from the reference."
            return CheckResult(CHECK_ID, False, 0.0, points, message)
        return CheckResult(
            CHECK_ID, True, points, points, f"The first step of {case.label} matched the reference."
        )


CHECK: Check = FirstStep()
