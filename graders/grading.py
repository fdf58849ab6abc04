"""One grading: generate cases, run the sandbox jobs, evaluate the checks in order, assemble the report.

Jobs, in order (each a fresh fork of the zygote): the visible cases (interface + correctness), the hidden cases
(their stdout is never shown), then the recurrence job (replay + interleave). The first job that does not finish
normally decides the verdict and the remaining checks are reported as not run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import reference
from graders import problems
from graders.cases import Case, hidden, make_cases, visible
from graders.checks import correctness, interface, recurrence
from graders.errors import ExerciseError
from graders.exercise import ExerciseSpec
from graders.plan import Plan, Trajectory, trajectory
from graders.report import CheckResult, Report, SandboxSummary, Verdict, not_run, sanitize
from graders.sandbox.host import ZygoteHost, default_host
from graders.sandbox.jobs import run_job
from graders.sandbox.outcome import JobOutcome


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

    def run(self, submission_sha256: str) -> Report:
        starts = self.host.starts
        self.host.start()  # no-op when warm; else the zygote boots while the parent prepares the cases
        cases = make_cases(self.spec)
        solo = self._correctness(cases)
        if solo is not None and any(c.id == "recurrence" for c in self.spec.checks):
            self._recurrence(solo)
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
        return mine[: len(shown)]

    def _recurrence(self, solo: list[Trajectory]) -> None:
        rp = recurrence.plan_for(self.spec, solo)
        if self._job("recurrence", rp.plan, lambda op: "recurrence", schema_check="recurrence"):
            self.results["recurrence"] = recurrence.evaluate(self.spec, rp, self.jobs["recurrence"])

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
        shown = [self.jobs[name] for name in ("visible", "recurrence") if name in self.jobs]
        sandbox = SandboxSummary(
            layers=self.host.layers,
            cpu_s=sum(o.cpu_s for o in self.jobs.values()),
            wall_s=sum(o.wall_s for o in self.jobs.values()),
            max_rss_kb=max((o.max_rss_kb for o in self.jobs.values()), default=0),
        )
        timings = dict(self.timings)
        timings["jobs"] = {
            name: {"roundtrip_s": o.roundtrip_s, "wall_s": o.wall_s} for name, o in self.jobs.items()
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
