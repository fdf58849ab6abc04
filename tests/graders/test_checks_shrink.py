"""Hypothesis-shrunk counterexamples for ``correctness``: searched in the parent, each try a budgeted sandbox job."""

from __future__ import annotations

import sys

import pytest
import torch
from hypothesis import given, settings

import graders
import graders.checks
import reference
from graders.cases import Case
from graders.checks import shrink
from graders.exercise import ExerciseSpec
from graders.sandbox.host import ZygoteHost


@settings(max_examples=30, deadline=None)
@given(shrink.sequences(1, 4))
def test_generated_sequences_are_small_integer_cases(case: Case) -> None:
    assert 1 <= case.d <= 4 and 1 <= case.T <= shrink.MAX_T
    for x in (case.K, case.V, case.Q):
        assert x.shape == (case.T, case.d) and x.dtype == torch.float32
        assert bool((x == x.round()).all()) and float(x.abs().max()) <= 3
    assert not case.hidden and case.label == shrink.LABEL


@pytest.mark.usefixtures("sandbox")
def test_a_wrong_count_shrinks_to_one_number(cumulative: ExerciseSpec, sandbox: ZygoteHost) -> None:
    wrong = next(w for w in cumulative.wrong if w.file == "one_based_count.py")
    found = shrink.smallest_failure(cumulative, reference.get_model(cumulative.model), wrong.source, sandbox)
    assert found is not None
    mismatch, jobs = found
    assert 0 < jobs <= shrink.MAX_JOBS
    # the first pair is halved: with d = 1 the smallest failing input is one nonzero number at step 0
    assert (mismatch.case.d, mismatch.step) == (1, 0)
    assert float(mismatch.got.abs().sum()) * 2 == pytest.approx(float(mismatch.expected.abs().sum()))


@pytest.mark.usefixtures("sandbox")
def test_the_search_stops_at_its_job_budget(
    fast_weight: ExerciseSpec, sandbox: ZygoteHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shrink, "MAX_JOBS", 3)
    wrong = next(w for w in fast_weight.wrong if w.file == "transposed.py")
    search = shrink.Search(fast_weight, reference.get_model(fast_weight.model), wrong.source, sandbox)
    one = torch.tensor([[1.0, 0.0]])
    cases = [
        Case("gen", shrink.LABEL, 2, torch.tensor([[float(i), 1.0]]), one, one.clone()) for i in range(6)
    ]
    # k_0 = [i, 1], v_0 = [1, 0]: v kᵀ ≠ k vᵀ for every i, so each case fails while the budget lasts
    assert [search.fails(case) for case in cases] == [True, True, True, False, False, False]
    assert search.jobs == 3
    assert [search.fails(case) for case in cases] == [True, True, True, False, False, False]  # replays agree
    assert search.jobs == 3


@pytest.mark.usefixtures("sandbox")
def test_an_honest_solution_gives_no_counterexample(fast_weight: ExerciseSpec, sandbox: ZygoteHost) -> None:
    model = reference.get_model(fast_weight.model)
    assert shrink.smallest_failure(fast_weight, model, fast_weight.solution, sandbox) is None


@pytest.mark.usefixtures("sandbox")
def test_grading_shows_the_shrunk_case_when_it_is_smaller(cumulative: ExerciseSpec) -> None:
    wrong = next(w for w in cumulative.wrong if w.file == "one_based_count.py")
    report = graders.grade(cumulative, wrong.source.encode())
    check = report.check("correctness")
    assert check is not None and not check.passed and check.counterexample is not None
    assert check.counterexample["generated"] is True and check.counterexample["d"] == 1
    assert "on a small generated case, at step 0. With d = 1, after k_0 = [" in check.message
    assert "shrank the first failing one to this smallest case" in check.message
    assert report.timings["shrink_jobs"] <= shrink.MAX_JOBS


@pytest.mark.usefixtures("sandbox")
def test_without_hypothesis_the_fixed_case_counterexample_stands(
    cumulative: ExerciseSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as where Hypothesis is not installed: importing the module raises ImportError
    monkeypatch.setitem(sys.modules, "graders.checks.shrink", None)
    monkeypatch.delattr(graders.checks, "shrink", raising=False)
    wrong = next(w for w in cumulative.wrong if w.file == "one_based_count.py")
    report = graders.grade(cumulative, wrong.source.encode())
    check = report.check("correctness")
    assert check is not None and not check.passed and check.counterexample is not None
    assert "generated" not in check.counterexample and "shrink_s" not in report.timings
    assert "on the first step (T = 1), at step 0. With d = 2" in check.message


@pytest.mark.parametrize("after", [0, 3])
def test_a_try_stopped_by_the_infrastructure_is_raised_not_taken_for_a_counterexample(
    cumulative: ExerciseSpec, monkeypatch: pytest.MonkeyPatch, after: int
) -> None:
    """A broken sandbox or the worker's soft time limit in the middle of a try is not about the student's values:
    Hypothesis would count it as a failing example (and then call the search flaky); it reaches the caller."""

    class SoftLimit(Exception):
        pass

    tries = []

    def run(self: shrink.Search, case: Case) -> None:
        tries.append(case)
        if len(tries) > after:
            raise SoftLimit
        return None

    monkeypatch.setattr(shrink.Search, "_run", run)
    with pytest.raises(SoftLimit):
        shrink.smallest_failure(cumulative, reference.get_model(cumulative.model), "", ZygoteHost())
    assert len(tries) == after + 1  # the search stopped at the interrupted try
