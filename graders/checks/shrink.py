"""Shrunk counterexamples for ``correctness``: Hypothesis, in the parent, searches small sequences on which the
student's memory differs from the reference, and shrinks the first one it finds to the smallest.

Runs only after a visible case failed, so an honest submission never pays for it. Every example Hypothesis tries
is one more sandbox job (a fresh module, ``init_memory``, every step), so the search is budgeted: at most
``MAX_JOBS`` jobs and ``MAX_SECONDS`` of wall-clock time, each job under short limits; once the budget is spent
every further example counts as passing, which ends the search with the smallest failure found so far. The search
is derandomised, so a submission gets the same counterexample on every attempt. A generated case that crashes or
returns a malformed memory does not count as a failure: the counterexample must be about values.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import torch
from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky, NoSuchExample

from graders.cases import Case
from graders.checks import correctness, interface
from graders.exercise import ExerciseSpec, Limits
from graders.plan import trajectory
from graders.sandbox.host import ZygoteHost
from graders.sandbox.jobs import run_job
from reference import ModelSpec

MAX_JOBS = 40
MAX_SECONDS = 3.0
MAX_T = 6  # generated sequences are short: the counterexample must be readable by hand
LABEL = "a small generated case"


class Search:
    """The budgeted predicate Hypothesis minimises: "the student's memory differs from the reference on this"."""

    def __init__(self, spec: ExerciseSpec, model: ModelSpec, text: str, host: ZygoteHost) -> None:
        short = Limits(
            wall_s=min(spec.limits.wall_s, 2.0),
            cpu_s=min(spec.limits.cpu_s, 1),
            memory_mb=spec.limits.memory_mb,
        )
        self.spec = dataclasses.replace(spec, limits=short)
        self.model = model
        self.text = text
        self.host = host
        self.jobs = 0
        self.started = time.perf_counter()
        self.found: dict[bytes, correctness.Mismatch | None] = {}  # every case tried, so replays agree
        # What stopped a try that is not about the student's values (a broken sandbox, the worker's soft time
        # limit): Hypothesis would take it for a failing example, so it is kept here and raised after the search.
        self.interrupted: BaseException | None = None

    def spent(self) -> bool:
        return self.jobs >= MAX_JOBS or time.perf_counter() - self.started > MAX_SECONDS

    def fails(self, case: Case) -> bool:
        if self.interrupted is not None:  # no further job: every try Hypothesis still makes ends the same way
            raise self.interrupted
        key = _key(case)
        if key not in self.found:
            try:
                self.found[key] = None if self.spent() else self._run(case)
            except BaseException as exc:
                self.interrupted = exc  # the first: later tries raise it above without running
                raise
        return self.found[key] is not None

    def _run(self, case: Case) -> correctness.Mismatch | None:
        self.jobs += 1
        plan = correctness.plan_for(self.spec, [case])
        outcome = run_job(plan.job(self.text), self.host)
        if not outcome.ok or interface.schema_problem(plan, outcome) is not None:
            return None
        mine = trajectory(outcome.outputs, self.spec, case, case.name)
        ref = correctness.reference_trajectory(self.model, self.spec, case)
        mismatch, _ = correctness.first_mismatch(self.spec, mine, ref)
        return mismatch


def smallest_failure(
    spec: ExerciseSpec, model: ModelSpec, text: str, host: ZygoteHost
) -> tuple[correctness.Mismatch, int] | None:
    """The smallest failing generated case found within the budget, with the number of jobs it took."""
    search = Search(spec, model, text, host)
    low, high = spec.dims["d"]
    config = settings(
        max_examples=MAX_JOBS,
        database=None,
        derandomize=True,
        deadline=None,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
    )
    try:
        case = find(sequences(low, min(high, 4)), search.fails, settings=config)
    except BaseException as exc:
        if search.interrupted is not None:  # not a verdict on the student's values: it reaches the caller
            raise search.interrupted from None
        if isinstance(exc, (NoSuchExample, Flaky)):  # nothing failed within the budget, or not deterministic
            return None
        raise
    if search.interrupted is not None:
        raise search.interrupted
    mismatch = search.found.get(_key(case))
    return (mismatch, search.jobs) if mismatch is not None else None


def sequences(low: int, high: int) -> st.SearchStrategy[Case]:
    """Small integer sequences: exact in float32 and easy to replay by hand. No large offsets here (the fixed
    visible cases have one): a shift shared by every input cannot shrink away one coordinate at a time."""

    @st.composite
    def build(draw: Any) -> Case:
        d = draw(st.integers(low, high))
        T = draw(st.integers(1, MAX_T))
        ints = st.lists(st.integers(-3, 3), min_size=T * d, max_size=T * d)

        def tensor() -> torch.Tensor:
            values: list[int] = draw(ints)
            return torch.tensor(values, dtype=torch.float32).reshape(T, d)  # (T, d)

        return Case("gen", LABEL, d, tensor(), tensor(), tensor())

    strategy: st.SearchStrategy[Case] = build()
    return strategy


def _key(case: Case) -> bytes:
    parts = [str(case.d).encode()] + [x.numpy().tobytes() for x in (case.K, case.V, case.Q)]
    return b"|".join(parts)
