"""One grading: generate cases, run the sandbox jobs, evaluate the checks in order, assemble the report.

Jobs, in order (each a fresh fork of the zygote): the visible cases (interface + correctness), the hidden cases
(their stdout is never shown), then one job for the properties, each part with a fresh module of its own:
recurrence first (its replay must be the first call of a freshly forked process; then interleave, and
substitution once correctness passed), then purity, then the long run that state_size and step_cost share (its
updates counted in the child). A failure is blamed on the part it happened in. A job that is killed sends back
nothing: when the long run fails (code whose cost grows until it times out, say), recurrence and purity run again
in a job of their own, so that they are still judged; at most four jobs either way. When a visible case fails
correctness, a budgeted Hypothesis search (more jobs) looks for a smaller counterexample. The first job that does
not finish normally decides the verdict and the remaining checks are reported as not run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from graders import problems
from graders.checks import correctness, interface, purity, recurrence, state_size, step_cost
from graders.exercise import ExerciseSpec
from graders.plan import Plan, Trajectory, trajectory
from graders.prepared import prepared
from graders.report import CheckResult, Report, SandboxSummary, Verdict, not_judged, not_run, sanitize
from graders.sandbox.host import ZygoteHost, default_host
from graders.sandbox.jobs import run_job
from graders.sandbox.outcome import JobOutcome

# jobs on visible inputs only: their stdout is shown
PROPERTY_JOBS = ("properties", "state_size", "causality", "complexity")
SIZE_CHECKS = ("state_size", "step_cost")  # they share the long run (the last part of job "properties")


class Grading:
    def __init__(self, spec: ExerciseSpec, text: str, host: ZygoteHost | None = None) -> None:
        self.spec = spec
        self.text = text
        self.host = host or default_host()
        self.prep = prepared(spec)  # cases, plans and oracle: the same for every submission to this exercise
        self.model = self.prep.model
        self.results: dict[str, CheckResult] = {}
        self.problem: problems.Problem | None = None
        self.jobs: dict[str, JobOutcome] = {}
        self.timings: dict[str, Any] = {}
        self._mine: list[Trajectory] = []  # the student's trajectories of every case (visible, then hidden)

    def run(self, submission_sha256: str) -> Report:
        starts = self.host.starts
        self.host.start()  # no-op when warm; else the zygote boots while the parent prepares the cases
        solo = self._correctness()
        if solo is not None and self.problem is None:
            self._properties(solo)
        if self.host.starts != starts and self.host.last_start_s is not None:
            self.timings["zygote_start_s"] = self.host.last_start_s
        return self._report(submission_sha256)

    def _correctness(self) -> list[Trajectory] | None:
        prep = self.prep
        shown, secret = prep.shown, prep.secret

        def blame(op: int | None) -> str:
            """The import and the first (smallest) case probe the interface; later cases test correctness."""
            return "interface" if op is None or op < prep.probe_end else "correctness"

        if not self._job("visible", prep.shown_plan, blame, schema_check="interface"):
            return None
        if not self._job("hidden", prep.secret_plan, lambda op: "correctness", schema_check="interface"):
            return None
        self.results["interface"] = interface.passed(self.spec)
        started = time.perf_counter()
        groups = (("visible", shown), ("hidden", secret))
        mine = [
            trajectory(self.jobs[job].outputs, self.spec, c, c.name) for job, group in groups for c in group
        ]
        self._mine = mine
        self.results["correctness"] = correctness.evaluate(self.spec, mine, prep.oracle)
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
            self.results["correctness"].plot = fixed.plot  # the trajectory of the visible case stays

    def _properties(self, solo: list[Trajectory]) -> None:
        """recurrence and purity, as listed, then the long run of state_size and step_cost, in one job whose
        parts each start with a fresh module. A job that is killed sends back nothing, so when the long run fails
        (its cost grows until a limit, say) the recurrence and purity parts run again in a job of their own and
        are still judged; a failure in those parts decides as it always did (the long run is not judged then)."""
        listed = {c.id for c in self.spec.checks}
        rp = pp = None
        parts: list[tuple[str, Plan]] = []
        if "recurrence" in listed:
            right = self.results.get("correctness")
            model = self.model if right is not None and right.passed else None
            rp = recurrence.plan_for(self.spec, solo, model)
            parts.append(("recurrence", rp.plan))
        if "purity" in listed:
            pp = purity.plan_for(self.spec, solo)
            parts.append(("purity", pp.plan))
        sizes = [check for check in SIZE_CHECKS if check in listed]
        long_run = self._long_run() if sizes else None
        if long_run is not None:
            parts.append((sizes[0], long_run[2]))
        if not parts:
            return
        plan, owners = Plan.merged(self.spec, parts)
        outcome = run_job(plan.job(self.text), self.host)
        nameless = sizes[0] if long_run is not None else owners[0][0]  # blamed where no call can be named
        found = self._problem(plan, outcome, _owner(owners, default=nameless), schema_check=None)
        self.jobs["properties"] = outcome
        if found is not None and long_run is not None and (found[1] is None or found[1] in owners[-1][1]):
            # the long run failed (or the job died where no call can be named): the other parts' outputs are
            # lost with it, so they run again on their own, and the long run's failure is recorded after them
            self.jobs["state_size"] = self.jobs.pop("properties")
            if len(parts) > 1:
                alone, alone_owners = Plan.merged(self.spec, parts[:-1])
                judge = _owner(alone_owners, default=alone_owners[0][0])
                if not self._job("properties", alone, judge, schema_check=None):
                    return
                self._judge_properties(rp, pp, self.jobs["properties"])
            self._record(found[0])
            return
        if found is not None:
            self._record(found[0])
            return
        self._judge_properties(rp, pp, outcome)
        if long_run is not None:
            self._judge_sizes(listed, long_run[0], long_run[1], outcome)

    def _judge_properties(
        self, rp: recurrence.RecurrencePlan | None, pp: purity.PurityPlan | None, outcome: JobOutcome
    ) -> None:
        if rp is not None:
            self.results["recurrence"] = recurrence.evaluate(self.spec, rp, outcome)
        if pp is not None:
            recorded = [
                (tr, self.jobs["hidden" if tr.case.hidden else "visible"].outputs) for tr in self._mine
            ]
            self.results["purity"] = purity.evaluate(self.spec, pp, outcome, recorded)

    def _long_run(self) -> tuple[state_size.SizePlan, step_cost.CostPlan | None, Plan]:
        """The one long run that state_size and step_cost share (its updates counted when step_cost is listed)."""
        sp, cp = self.prep.sizes, self.prep.cost
        return sp, cp, sp.plan if cp is None else cp.plan

    def _judge_sizes(
        self, listed: set[str], sp: state_size.SizePlan, cp: step_cost.CostPlan | None, outcome: JobOutcome
    ) -> None:
        if "state_size" in listed:
            self.results["state_size"] = state_size.evaluate(self.spec, sp, outcome)
        if cp is not None and not self._outputs_right():
            self.results["step_cost"] = not_judged("step_cost", self.spec.check_points("step_cost"))
        elif cp is not None:
            self.results["step_cost"] = step_cost.evaluate(
                self.spec, cp, outcome, again=lambda: self._again(cp)
            )

    def _outputs_right(self) -> bool:
        """Whether correctness passed: the costs (step_cost, complexity) are judged only then."""
        right = self.results.get("correctness")
        return right is not None and right.passed

    def _again(self, cp: step_cost.CostPlan) -> JobOutcome | None:
        """The long run alone, once more (step_cost's confirmation of a CPU time that grew), or None when it did
        not finish normally. The fourth job at most: this path ran three."""
        outcome = run_job(cp.plan.job(self.text), self.host)
        self.jobs["step_cost"] = outcome
        return (
            outcome
            if self._problem(cp.plan, outcome, lambda op: "step_cost", schema_check=None) is None
            else None
        )

    def _job(
        self, name: str, plan: Plan, check_for: Callable[[int | None], str], *, schema_check: str | None
    ) -> bool:
        """Run ``plan``; on any problem record it (verdict + failed check) and return False."""
        outcome = run_job(plan.job(self.text), self.host)
        self.jobs[name] = outcome
        found = self._problem(plan, outcome, check_for, schema_check=schema_check)
        if found is None:
            return True
        self._record(found[0])
        return False

    def _problem(
        self,
        plan: Plan,
        outcome: JobOutcome,
        check_for: Callable[[int | None], str],
        *,
        schema_check: str | None,
    ) -> tuple[problems.Problem, int | None] | None:
        """What went wrong in a job and at which op (None: no call can be named), or None if nothing did. A
        malformed return is blamed on ``schema_check``, or (None) on ``check_for`` of the call that returned it."""
        schema = interface.schema_problem_at(plan, outcome)
        if schema is not None:  # checked first: a malformed return is usually what made a later call fail
            message, secret, index = schema
            blamed = schema_check if schema_check is not None else check_for(index)
            return problems.Problem("invalid_output", blamed, message, secret), index
        if not outcome.ok:
            return problems.describe(self.spec, plan, outcome, check_for), outcome.failed_op
        return None

    def _record(self, problem: problems.Problem) -> None:
        """The grading's deciding problem: its check fails with the message, the checks after it do not run."""
        self.problem = problem
        if problem.check_id != "interface" and "interface" not in self.results:
            self.results["interface"] = interface.passed(self.spec)
        points = self.spec.check_points(problem.check_id)
        self.results[problem.check_id] = CheckResult(
            problem.check_id, False, 0.0, points, problem.message, hidden=problem.hidden
        )

    def _report(self, sha: str) -> Report:
        checks = [
            self.results.get(c.id) or not_run(c.id, c.points, self._skip_reason()) for c in self.spec.checks
        ]
        _gate_properties(checks)
        verdict: Verdict = "passed" if all(c.passed for c in checks) else "failed"
        if self.problem is not None:
            verdict = self.problem.verdict
        shown = [self.jobs[name] for name in ("visible", *PROPERTY_JOBS) if name in self.jobs]
        # Times and sizes of the jobs on visible inputs only: a submission can spend time or memory as a
        # function of its inputs, so anything measured on a hidden case would carry the hidden inputs out.
        # (What remains is the run's start and end as the page shows them, to the second, within the limits.)
        sandbox = SandboxSummary(
            layers=self.host.layers,
            cpu_s=sum(o.cpu_s for o in shown),
            wall_s=sum(o.wall_s for o in shown),
            max_rss_kb=max((o.max_rss_kb for o in shown), default=0),
        )
        timings = dict(self.timings)
        timings["jobs"] = {
            name: {"roundtrip_s": o.roundtrip_s, "wall_s": o.wall_s, "start_s": o.start_s}
            for name, o in self.jobs.items()
            if name != "hidden"
        }
        timings["jobs_run"] = len(self.jobs)
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


def _owner(owners: list[tuple[str, range]], *, default: str) -> Callable[[int | None], str]:
    """The check whose part of a merged plan holds an op (``default`` where no op can be named)."""

    def owner(op: int | None) -> str:
        return next((name for name, ops in owners if op is not None and op in ops), default)

    return owner


ANSWER_CHECKS = ("interface", "correctness")


def _gate_properties(checks: list[CheckResult]) -> None:
    """Properties earn points only for a correct answer: an update that returns its memory unchanged is pure,
    fixed-size, recurrent and cheap, and must not score for that. They are still judged and explained."""
    right = next((c for c in checks if c.id == "correctness"), None)
    if right is None or right.passed:
        return
    for check in checks:
        if check.id not in ANSWER_CHECKS and check.ran and check.passed:
            check.points = 0.0
            check.message += " (No points yet: properties count once correctness passes.)"
