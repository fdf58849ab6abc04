"""The ``state_size`` check: every element of the memory counted after n and 8n steps."""

from __future__ import annotations

import pytest
import torch

import graders
from graders.checks import state_size
from graders.exercise import ExerciseSpec
from graders.sandbox.outcome import JobOutcome
from tests.graders.submissions import fast_weight_with


def outcome(
    early: dict[str, torch.Tensor], late: dict[str, torch.Tensor], sp: state_size.SizePlan
) -> JobOutcome:
    first, last = sp.counted
    outputs = {f"size/m/{first}/{key}": t for key, t in early.items()}
    outputs |= {f"size/m/{last}/{key}": t for key, t in late.items()}
    return JobOutcome(kind="ok", outputs=outputs)


def test_the_plan_runs_8n_steps_and_sends_back_two_memories(fast_weight: ExerciseSpec) -> None:
    sp = state_size.plan_for(fast_weight)
    updates = [op for op in sp.plan.ops if op["op"] == "update"]
    assert len(updates) == sp.case.T == 8 * state_size.WARM_UP
    assert [i for i, op in enumerate(updates) if op["save"] is not None] == list(sp.counted)
    assert sp.counted == (state_size.WARM_UP - 1, 8 * state_size.WARM_UP - 1)
    # the counted memories are judged by this check, not by the interface schema check
    assert all(call.save is None for call in sp.plan.calls if call.function == "update")


def test_fixed_layout_passes_and_growth_or_extra_entries_fail(fast_weight: ExerciseSpec) -> None:
    sp = state_size.plan_for(fast_weight)
    d = sp.case.d
    right = {"M": torch.zeros(d, d)}
    assert state_size.evaluate(fast_weight, sp, outcome(right, right, sp)).passed
    grown = state_size.evaluate(fast_weight, sp, outcome(right, right | {"h": torch.zeros(7, d)}, sp))
    assert not grown.passed and "but yours grew" in grown.message and grown.counterexample is not None
    assert grown.counterexample["elements"] == [d * d, d * d + 7 * d]
    assert '"h" of shape (7, 2)' in grown.counterexample["text"]
    # the same number of elements, but not in the declared tensors
    moved = state_size.evaluate(fast_weight, sp, outcome(right, {"W": torch.zeros(d, d)}, sp))
    assert not moved.passed and "yours changed" in moved.message


@pytest.mark.usefixtures("sandbox")
def test_honest_solutions_stay_fixed_size(fast_weight: ExerciseSpec, cumulative: ExerciseSpec) -> None:
    for spec in (fast_weight, cumulative):
        check = graders.grade(spec, spec.solution.encode()).check("state_size")
        assert check is not None and check.passed and "stays fixed-size" in check.message


@pytest.mark.usefixtures("sandbox")
def test_a_history_that_starts_late_fails_state_size_only(fast_weight: ExerciseSpec) -> None:
    late = next(w for w in fast_weight.wrong if w.file == "late_history.py")
    report = graders.grade(fast_weight, late.source.encode())
    assert report.verdict == "failed"
    assert [c.id for c in report.checks if not c.passed] == ["state_size"]
    check = report.check("state_size")
    assert check is not None and check.counterexample is not None
    assert check.counterexample["elements"] == [4, 4 + 448 * 4]  # d = 2: M, then 448 pairs of (k, v)


@pytest.mark.usefixtures("sandbox")
def test_a_history_kept_from_the_first_step_is_an_interface_failure(fast_weight: ExerciseSpec) -> None:
    # the declared layout is exact, so an extra growing entry is refused before the size is ever counted
    source = fast_weight_with(update='return {"M": mem["M"] + torch.outer(v, k), "h": torch.zeros(1)}\n')
    report = graders.grade(fast_weight, source.encode())
    assert report.verdict == "invalid_output"
    state = report.check("state_size")
    assert state is not None and not state.ran
