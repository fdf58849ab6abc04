"""One grading: generate cases, run the sandbox jobs, evaluate the checks in order, assemble the report.

Jobs, in order (each a fresh fork of the zygote): the visible cases (interface + correctness), the hidden cases
(their stdout is never shown), then one job per property check the exercise lists: recurrence (replay,
interleave, and substitution once correctness passed), purity, state_size and step_cost, which share one job (the
long state_size run, its updates counted in the child). When a visible case fails correctness,
a budgeted Hypothesis search (more jobs) looks for a smaller counterexample. The first job that does not finish
normally decides the verdict and the remaining checks are reported as not run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import reference
from graders import problems
from graders.cases import Case, hidden, make_cases, visible
from graders.checks import correctness, interface, purity, recurrence, state_size, step_cost
from graders.errors import ExerciseError
from graders.exercise import ExerciseSpec
from graders.plan import Plan, Trajectory, trajectory
from graders.report import CheckResult, Report, SandboxSummary, Verdict, not_run, sanitize
from graders.sandbox.host import ZygoteHost, default_host
from graders.sandbox.jobs import run_job
from graders.sandbox.outcome import JobOutcome

# jobs on visible inputs only: their stdout is shown
PROPERTY_JOBS = ("recurrence", "purity", "state_size", "causality", "complexity")


class Grading:
    def __init__(self, spec: ExerciseSpec, text: str, host: ZygoteHost | None = None) -> None:
        self.spec = spec
        self.text = text
        self.host = host or default_host()
        try:
            self.model = reference.get_model(spec.model)
        except KeyError as exc:
            raise ExerciseError(f"exercise {spec.slug!r}: {exc.args[0]}") from None
        self.results: dict[str, CheckResult] = {}
        self.problem: problems.Problem | None = None
        self.jobs: dict[str, JobOutcome] = {}
        self.timings: dict[str, Any] = {}
        self._sizes: state_size.SizePlan | None = None

    def run(self, submission_sha256: str) -> Report:
        starts = self.host.starts
        self.host.start()  # no-op when warm; else the zygote boots while the parent prepares the cases
        cases = make_cases(self.spec)
        solo = self._correctness(cases)
        properties = {
            "recurrence": self._recurrence,
            "purity": self._purity,
            "state_size": self._state_size,
            "step_cost": self._step_cost,
        }
        for check in self.spec.checks:
            if solo is None or self.problem is not None:
                break
            if check.id in properties:
                properties[check.id](solo)
        if self.host.starts != starts and self.host.last_start_s is not None:
            self.timings["zygote_start_s"] = self.host.last_start_s
        return self._report(submission_sha256)

    def _correctness(self, cases: list[Case]) -> list[Trajectory] | None:
        shown, secret = visible(cases), hidden(cases)
        shown_plan = correctness.plan_for(self.spec, shown)
        modules = [i for i, call in enumerate(shown_plan.calls) if call.function == "module"]
        probe_end = modules[1] if len(modules) > 1 else len(shown_plan.calls)

        def blame(op: int | None) -> str:
            """The import and the first (smallest) case probe the interface; later cases test correctness."""
            return "interface" if op is None or op < probe_end else "correctness"

        if not self._job("visible", shown_plan, blame, schema_check="interface"):
            return None
        secret_plan = correctness.plan_for(self.spec, secret)
        if not self._job("hidden", secret_plan, lambda op: "correctness", schema_check="interface"):
            return None
        self.results["interface"] = interface.passed(self.spec)
        started = time.perf_counter()
        groups = (("visible", shown), ("hidden", secret))
        mine = [
            trajectory(self.jobs[job].outputs, self.spec, c, c.name) for job, group in groups for c in group
        ]
        oracle = [correctness.reference_trajectory(self.model, self.spec, c) for c in shown + secret]
        self.results["correctness"] = correctness.evaluate(self.spec, mine, oracle)
        self.timings["reference_s"] = time.perf_counter() - started
        self._shrink(self.results["correctness"])
        return mine[: len(shown)]

    def _shrink(self, fixed: CheckResult) -> None:
        """A visible case failed: look for a smaller failing case and show it instead, if it is no bigger."""
        if fixed.passed or fixed.hidden or fixed.counterexample is None:
            return
        try:  # Hypothesis is in requirements-dev.txt only so far; without it the fixed-case counterexample stands
            from graders.checks import shrink
        except ImportError:
            return
        started = time.perf_counter()
        found = shrink.smallest_failure(self.spec, self.model, self.text, self.host)
        self.timings["shrink_s"] = time.perf_counter() - started
        if found is None:
            return
        mismatch, jobs = found
        self.timings["shrink_jobs"] = jobs
        size = (mismatch.step + 1) * mismatch.case.d  # numbers in the inputs a student must replay
        if size <= (fixed.counterexample["step"] + 1) * fixed.counterexample["d"]:
            ref = correctness.reference_trajectory(self.model, self.spec, mismatch.case)
            self.results["correctness"] = correctness.shrunk(self.spec, mismatch, ref, jobs)

    def _recurrence(self, solo: list[Trajectory]) -> None:
        right = self.results.get("correctness")
        rp = recurrence.plan_for(self.spec, solo, self.model if right is not None and right.passed else None)
        if self._job("recurrence", rp.plan, lambda op: "recurrence", schema_check="recurrence"):
            self.results["recurrence"] = recurrence.evaluate(self.spec, rp, self.jobs["recurrence"])

    def _purity(self, solo: list[Trajectory]) -> None:
        pp = purity.plan_for(self.spec, solo)
        if self._job("purity", pp.plan, lambda op: "purity", schema_check="purity"):
            self.results["purity"] = purity.evaluate(self.spec, pp, self.jobs["purity"])

    def _state_size(self, solo: list[Trajectory]) -> None:
        if self._long_run("state_size"):
            sp = self._size_plan()
            self.results["state_size"] = state_size.evaluate(self.spec, sp, self.jobs["state_size"])

    def _step_cost(self, solo: list[Trajectory]) -> None:
        if self._long_run("step_cost"):
            sp = self._size_plan()
            cp = step_cost.plan_for(sp.plan, sp.case.T, sp.case.d)
            self.results["step_cost"] = step_cost.evaluate(self.spec, cp, self.jobs["state_size"])

    def _size_plan(self) -> state_size.SizePlan:
        if self._sizes is None:
            self._sizes = state_size.plan_for(self.spec)
        return self._sizes

    def _long_run(self, check: str) -> bool:
        """The one long run that state_size and step_cost share (job "state_size"), run by the first of them;
        its updates are counted when the exercise lists step_cost. A failure is blamed on ``check``."""
        if "state_size" in self.jobs:
            return self.jobs["state_size"].ok
        plan = self._size_plan().plan
        if any(c.id == "step_cost" for c in self.spec.checks):
            plan = plan.counting(step_cost.COUNT)
        return self._job("state_size", plan, lambda op: check, schema_check=check)

    def _job(
        self, name: str, plan: Plan, check_for: Callable[[int | None], str], *, schema_check: str
    ) -> bool:
        """Run ``plan``; on any problem record it (verdict + failed check) and return False."""
        outcome = run_job(plan.job(self.text), self.host)
        self.jobs[name] = outcome
        schema = interface.schema_problem(plan, outcome)
        if schema is not None:  # checked first: a malformed return is usually what made a later call fail
            message, secret = schema
            self.problem = problems.Problem("invalid_output", schema_check, message, secret)
        elif not outcome.ok:
            self.problem = problems.describe(self.spec, plan, outcome, check_for)
        else:
            return True
        if self.problem.check_id != "interface" and "interface" not in self.results:
            self.results["interface"] = interface.passed(self.spec)
        points = self.spec.check_points(self.problem.check_id)
        self.results[self.problem.check_id] = CheckResult(
            self.problem.check_id, False, 0.0, points, self.problem.message, hidden=self.problem.hidden
        )
        return False

    def _report(self, sha: str) -> Report:
        checks = [
            self.results.get(c.id) or not_run(c.id, c.points, self._skip_reason()) for c in self.spec.checks
        ]
        verdict: Verdict = "passed" if all(c.passed for c in checks) else "failed"
        if self.problem is not None:
            verdict = self.problem.verdict
        shown = [self.jobs[name] for name in ("visible", *PROPERTY_JOBS) if name in self.jobs]
        sandbox = SandboxSummary(
            layers=self.host.layers,
            cpu_s=sum(o.cpu_s for o in self.jobs.values()),
            wall_s=sum(o.wall_s for o in self.jobs.values()),
            max_rss_kb=max((o.max_rss_kb for o in self.jobs.values()), default=0),
        )
        timings = dict(self.timings)
        timings["jobs"] = {
            name: {"roundtrip_s": o.roundtrip_s, "wall_s": o.wall_s, "start_s": o.start_s}
            for name, o in self.jobs.items()
        }
        return Report(
            exercise=self.spec.slug,
            verdict=verdict,
            checks=checks,
            submission_sha256=sha,
            sandbox=sandbox,
            stdout=sanitize(b"".join(o.stdout for o in shown)),
            stderr=sanitize(b"".join(o.stderr for o in shown)),
            timings=timings,
        )

    def _skip_reason(self) -> str:
        interface_result = self.results.get("interface")
        if interface_result is None or not interface_result.passed:
            return "the interface check failed"
        assert self.problem is not None
        return f"your code did not finish the {self.problem.check_id} check"
