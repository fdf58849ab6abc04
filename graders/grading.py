"""One grading: plan each check's parts, run them in the fewest sandbox jobs, judge the checks, build the report.

The checks come from the registry (:mod:`graders.checks`), in its order, each after the checks it ``needs``; their
shape is :mod:`graders.checks.api`. Parts that name the same job run in one fresh fork of the zygote, one after
another, each with a fresh import of the submission. A job runs when a check about to be planned needs a check
that waits for it, or at the end. A failure is blamed on the check owning the op that failed; the first job that
does not finish normally decides the verdict and the checks not yet judged are reported as not run, except that a
fragile part's failure (the long run timing out) first reruns the other parts of its job on their own, so that
they are still judged.

For the built-in checks this gives, for the recurrent interface: the visible cases, the hidden cases (their output
is never shown), then one properties job (recurrence, purity, then the long run of state_size and step_cost), and
at most a fourth job (the properties again without the long run, or step_cost's confirmation); for the sequence
interface: the visible cases, the hidden cases, then complexity and causality, a job each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graders import checks, problems
from graders.checks.api import Check, Part, Planned
from graders.checks.interface import schema_problem_at
from graders.exercise import ExerciseSpec
from graders.plan import Plan
from graders.prepared import prepared
from graders.report import CheckResult, Report, SandboxSummary, Verdict, not_run, sanitize
from graders.sandbox.host import ZygoteHost, default_host
from graders.sandbox.jobs import run_job
from graders.sandbox.outcome import JobOutcome

Found = tuple[problems.Problem, int | None]  # what went wrong in a job, and at which op (None: no call named)


class Grading:
    """The grading of one submission; also the :class:`graders.checks.api.Context` its checks see."""

    def __init__(
        self, spec: ExerciseSpec, text: str, host: ZygoteHost | None = None, *, examples_only: bool = False
    ) -> None:
        self.spec = spec
        self.examples_only = examples_only
        self.text = text
        self.host = host or default_host()
        self.prep = prepared(spec)  # cases and plans: the same for every submission to this exercise
        self.model = self.prep.model
        self.results: dict[str, CheckResult] = {}
        self.problem: problems.Problem | None = None
        self.jobs: dict[str, JobOutcome] = {}
        self.timings: dict[str, Any] = {}
        self.notes: dict[str, Any] = {}
        self._listed = {c.id for c in spec.checks}
        self._pending: list[Part] = []  # planned, not run yet
        self._waiting: list[tuple[Check, Planned]] = []  # planned, not judged yet
        self._done: set[Part] = set()  # parts that ran to the end
        self._secret: set[str] = set()  # jobs on hidden inputs: never shown, nor their times
        self._reruns: set[str] = set()  # confirmations: their output is not shown

    def lists(self, check_id: str) -> bool:
        return check_id in self._listed

    def outputs_right(self) -> bool:
        right = self.results.get("correctness")
        return right is not None and right.passed

    def run(self, submission_sha256: str) -> Report:
        starts = self.host.starts
        self.host.start()  # no-op when warm; else the zygote boots while the parent prepares the cases
        self._grade()
        if self.host.starts != starts and self.host.last_start_s is not None:
            self.timings["zygote_start_s"] = self.host.last_start_s
        return self._report(submission_sha256)

    def _grade(self) -> None:
        for check in self._checks():
            if any(waiting.id in check.needs for waiting, _ in self._waiting) and not self._flush():
                return
            planned = check.plan(self)
            if not planned.parts:  # judged from the jobs of the checks it needs, or needing none
                self.results[check.id] = check.judge(self, planned, self.jobs)
                continue
            if self.examples_only:  # a practice run: never a hidden input
                planned.parts = [part for part in planned.parts if part.shown]
            for i, part in enumerate(planned.parts):
                planned.parts[i] = self._add(check.id, part)
            self._waiting.append((check, planned))
        self._flush()

    def _checks(self) -> list[Check]:
        """The listed checks in registry order, each after the checks it needs (listed or not: an unlisted
        check that another needs runs and is judged, but is not reported)."""
        interface = self.spec.interface
        ordered: list[Check] = []

        def visit(check_id: str) -> None:
            check = checks.implementation(check_id, interface)
            if check in ordered:
                return
            for need in check.needs:
                visit(need)
            ordered.append(check)

        for check_id in checks.ids_for(interface):
            if check_id in self._listed and (check_id in ANSWER_CHECKS or not self.examples_only):
                visit(check_id)
        return ordered

    def _add(self, owner: str, part: Part) -> Part:
        """Queue ``part`` (owned by ``owner``), or, when a part with its share key was planned already, run that
        one with ``part``'s plan (the same calls, perhaps counted) and return it."""
        shared = next(
            (p for p in (*self._pending, *self._done) if part.share is not None and p.share == part.share),
            None,
        )
        if shared is not None:
            if shared in self._pending:
                shared.plan = part.plan
            return shared
        part.owner = owner
        self._pending.append(part)
        return part

    def _flush(self) -> bool:
        """Run the pending parts, one job per job name in the order first planned, judging each waiting check
        once all its parts ran. False when a job failed: its problem is recorded and nothing else runs."""
        while self._pending:
            name = self._pending[0].job
            parts = [p for p in self._pending if p.job == name]
            self._pending = [p for p in self._pending if p.job != name]
            if not self._run(name, parts):
                return False
        return True

    def _run(self, name: str, parts: list[Part]) -> bool:
        plan, starts = _merged(self.spec, parts)
        outcome = run_job(plan.job(self.text), self.host)
        self.jobs[name] = outcome
        if not all(p.shown for p in parts):
            self._secret.add(name)
        blame, schema_blame = _blamers(parts, starts)
        found = self._problem(plan, outcome, blame, schema_blame)
        if found is None:
            self._done.update(parts)
            self._judge_ready()
            return True
        problem, op = found
        fragile = next((p for p in parts if p.fragile), None)
        if fragile is not None and (op is None or _part_at(parts, starts, op) is fragile):
            # the fragile part failed (or the job died where no call can be named): the other parts' outputs
            # are lost with it, so they run again on their own, and its failure is recorded after them
            self.jobs[fragile.owner] = self.jobs.pop(name)
            others = [p for p in parts if p is not fragile]
            if others and not self._run(name, others):
                return False
        self._record(problem)
        return False

    def _judge_ready(self) -> None:
        for check, planned in list(self._waiting):
            if all(part in self._done for part in planned.parts):
                self._waiting.remove((check, planned))
                self.results[check.id] = check.judge(self, planned, self.jobs)

    def rerun(self, plan: Plan, name: str) -> JobOutcome | None:
        outcome = run_job(plan.job(self.text), self.host)
        self.jobs[name] = outcome
        self._reruns.add(name)
        found = self._problem(plan, outcome, lambda op: name, lambda op: name)
        return outcome if found is None else None

    def _problem(
        self,
        plan: Plan,
        outcome: JobOutcome,
        blame: Callable[[int | None], str],
        schema_blame: Callable[[int], str],
    ) -> Found | None:
        """What went wrong in a job and at which op, or None if nothing did."""
        schema = schema_problem_at(plan, outcome)
        if schema is not None:  # checked first: a malformed return is usually what made a later call fail
            message, secret, index = schema
            return problems.Problem("invalid_output", schema_blame(index), message, secret), index
        if not outcome.ok:
            return problems.describe(self.spec, plan, outcome, blame), outcome.failed_op
        return None

    def _record(self, problem: problems.Problem) -> None:
        """The grading's deciding problem: its check fails with the message, the checks after it do not run."""
        self.problem = problem
        if problem.check_id != "interface" and "interface" not in self.results:
            self.results["interface"] = checks.implementation("interface", self.spec.interface).judge(
                self, Planned(), self.jobs
            )
        points = self.spec.check_points(problem.check_id)
        self.results[problem.check_id] = CheckResult(
            problem.check_id, False, 0.0, points, problem.message, hidden=problem.hidden
        )

    def _report(self, sha: str) -> Report:
        checks_ = [
            self.results.get(c.id) or not_run(c.id, c.points, self._skip_reason()) for c in self.spec.checks
        ]
        _gate_properties(checks_)
        judged = [c for c in checks_ if c.ran] if self.examples_only else checks_  # a practice run: what ran
        verdict: Verdict = "passed" if all(c.passed for c in judged) else "failed"
        if self.problem is not None:
            verdict = self.problem.verdict
        shown = [o for name, o in self.jobs.items() if name not in self._secret | self._reruns]
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
            if name not in self._secret
        }
        timings["jobs_run"] = len(self.jobs)
        return Report(
            exercise=self.spec.slug,
            verdict=verdict,
            checks=checks_,
            submission_sha256=sha,
            sandbox=sandbox,
            stdout=sanitize(b"".join(o.stdout for o in shown)),
            stderr=sanitize(b"".join(o.stderr for o in shown)),
            timings=timings,
        )

    def _skip_reason(self) -> str:
        if self.examples_only and self.problem is None:
            return "a run on the examples checks the answer only: this check runs when you submit"
        interface_result = self.results.get("interface")
        if interface_result is None or not interface_result.passed:
            return "the interface check failed"
        assert self.problem is not None
        return f"your code did not finish the {self.problem.check_id} check"


def _merged(spec: ExerciseSpec, parts: list[Part]) -> tuple[Plan, list[int]]:
    """One schedule running ``parts`` one after another, and the first op of each. A lone part runs its own plan
    (a kept plan's inputs are packed once, see :mod:`graders.prepared`)."""
    if len(parts) == 1:
        return parts[0].plan, [0]
    plan, owners = Plan.merged(spec, [(p.owner, p.plan) for p in parts])
    return plan, [ops.start for _, ops in owners]


def _part_at(parts: list[Part], starts: list[int], op: int) -> Part | None:
    """The part of a merged schedule that holds ``op``."""
    for part, start in zip(parts, starts, strict=True):
        if start <= op < start + len(part.plan.ops):
            return part
    return None


def _blamers(
    parts: list[Part], starts: list[int]
) -> tuple[Callable[[int | None], str], Callable[[int], str]]:
    """Who is blamed for a failure at an op of the merged job, and for a malformed return there. Where no call
    can be named, the fragile part (whose failure loses the others) is, else the first."""

    def blame_in(part: Part, op: int | None) -> str:
        return part.blame(op) if part.blame is not None else part.owner

    nameless = next((p for p in parts if p.fragile), parts[0])

    def blame(op: int | None) -> str:
        if op is not None:
            part = _part_at(parts, starts, op)
            if part is not None:
                return blame_in(part, op - starts[parts.index(part)])
        return blame_in(nameless, None)

    def schema_blame(op: int) -> str:
        part = _part_at(parts, starts, op)
        if part is not None and part.schema_blame is not None:
            return part.schema_blame
        return blame(op)

    return blame, schema_blame


ANSWER_CHECKS = ("interface", "correctness")


def _gate_properties(checks_: list[CheckResult]) -> None:
    """Properties earn points only for a correct answer: an update that returns its memory unchanged is pure,
    fixed-size, recurrent and cheap, and must not score for that. They are still judged and explained."""
    right = next((c for c in checks_ if c.id == "correctness"), None)
    if right is None or right.passed:
        return
    for check in checks_:
        if check.id not in ANSWER_CHECKS and check.ran and check.passed:
            check.points = 0.0
            check.message += " (No points yet: properties count once correctness passes.)"
