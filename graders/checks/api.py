"""The shape every check has: it plans parts of sandbox jobs, and judges what they returned.

A grading (:class:`graders.grading.Grading`) takes an exercise's checks in registry order. For each, it calls
``plan``, merges the planned parts that name the same job into one sandbox job (the fewest jobs the isolation
rules allow), runs the jobs, blames a failure on the check owning the op that failed, and calls ``judge`` once
every part of the check ran to the end. The first job that fails decides the verdict; later checks do not run.

Isolation rules, as fields of :class:`Part`:

* ``job``: parts naming the same job run in one sandbox process, in the order planned, each starting with a fresh
  import of the submission (the plan's first op is ``module``). Checks that need a process of their own (a replay
  that must be the first call after the fork, a cost measured without other work) name a job of their own.
* ``share``: parts with the same key are one run (the part planned last is the one that runs: a later check may
  count the same calls, never change them), owned by the check that planned it first.
* ``fragile``: a part whose failure (a time-out, say) takes the other parts' outputs down with it. When it fails,
  the other parts of its job run again in a job of their own, so that they are still judged.
* ``needs`` (of the check): the checks judged before this one is planned (recurrence replays the student's
  trajectories, so it needs correctness's jobs run and judged).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from graders.exercise import ExerciseSpec
    from graders.plan import Plan
    from graders.prepared import Prepared
    from graders.report import CheckResult
    from graders.sandbox.host import ZygoteHost
    from graders.sandbox.outcome import JobOutcome
    from reference import ModelSpec


PROPERTIES = "properties"  # the job the recurrent interface's properties share (recurrence, purity, long run)


@dataclass(eq=False)
class Part:
    """Some calls a check needs run in the sandbox (see the module's docstring for the fields' rules)."""

    job: str
    plan: Plan
    share: str | None = None
    fragile: bool = False
    # op (an index into this part's plan; None: no call can be named) -> the check blamed; None: the owner
    blame: Callable[[int | None], str] | None = None
    schema_blame: str | None = None  # a malformed return in this part is blamed on this check, not the blame
    shown: bool = True  # False: hidden inputs, so the job's output, times and sizes are never shown
    owner: str = ""  # set by the grading: the check that planned it (first, for a shared part)


@dataclass
class Planned:
    """What ``plan`` returns: the parts to run and whatever ``judge`` will need to read their outputs."""

    parts: list[Part] = field(default_factory=list)
    data: Any = None


class Context(Protocol):
    """What a check sees of the grading in progress."""

    spec: ExerciseSpec
    text: str  # the submission
    host: ZygoteHost
    prep: Prepared  # cases and plans that depend on the exercise only, kept between gradings
    model: ModelSpec  # the reference model
    results: dict[str, CheckResult]  # the checks judged so far
    jobs: dict[str, JobOutcome]  # the outcomes of the jobs run so far, by job name
    timings: dict[str, Any]
    notes: dict[str, Any]  # what a check leaves for the checks that need it (correctness: the trajectories)
    examples_only: (
        bool  # a practice run: only parts that are ``shown`` run (never a hidden input), nothing graded
    )

    def lists(self, check_id: str) -> bool:
        """Whether the exercise lists ``check_id``."""
        ...

    def outputs_right(self) -> bool:
        """Whether correctness passed: costs are judged only then."""
        ...

    def rerun(self, plan: Plan, name: str) -> JobOutcome | None:
        """``plan`` once more in a job of its own (recorded as ``name``, never shown), or None when it did not
        finish normally (a confirmation only: its failure decides nothing)."""
        ...


class Check(Protocol):
    """One check of GRADING.md §3 for one interface."""

    id: str
    needs: tuple[str, ...]

    def plan(self, ctx: Context) -> Planned:
        """The parts this check needs run (none: it is judged from other checks' jobs or needs no job)."""
        ...

    def judge(self, ctx: Context, planned: Planned, outcomes: Mapping[str, JobOutcome]) -> CheckResult:
        """The result, once every planned part ran to the end (``outcomes``: by job name)."""
        ...
