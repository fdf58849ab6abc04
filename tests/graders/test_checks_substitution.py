"""Part (c) of ``recurrence``: the student's update applied to a memory built by the reference from another
sequence must give the reference's ``f`` of that memory."""

from __future__ import annotations

import pytest
import torch

import graders
import reference
from graders.cases import make_cases
from graders.checks import substitution
from graders.exercise import ExerciseSpec
from graders.plan import Plan
from tests.graders.submissions import fast_weight_with

# Right on every memory whose entries lie on the 1e-4 grid that inputs rounded to 2 decimals produce, wrong on
# any other: it passes correctness, replay and interleaving, which only ever hand it its own memories.
GRID_ONLY = fast_weight_with(
    update=(
        'M = mem["M"]\n'
        "x = M.double() * 1e4\n"
        "if (x - x.round()).abs().max() > 0.2:  # not a memory this code could have produced\n"
        "    M = torch.zeros_like(M)\n"
        'return {"M": M + torch.outer(v, k)}\n'
    )
)


def test_the_substituted_memory_has_the_declared_layout_and_the_reference_expectation(
    cumulative: ExerciseSpec,
) -> None:
    model = reference.get_model(cumulative.model)
    case = make_cases(cumulative)[4]
    plan = Plan(cumulative)
    sub = substitution.plan_into(plan, model, case, 5)
    assert set(sub.prev) == {"k", "v", "n"} and all(t.dtype == torch.float32 for t in sub.prev.values())
    assert float(sub.prev["n"]) == substitution.HISTORY_STEPS and float(sub.expected["n"]) == 8
    # the mean of 7 pairs, then the 8th: (k_5 + 7 * mean) / 8, in float64 from the float32 memory sent
    want = (case.K[5].double() + 7 * sub.prev["k"].double()) / 8
    assert torch.allclose(sub.expected["k"], want)
    assert [op["op"] for op in plan.ops] == ["module", "load_state", "update"]


@pytest.mark.usefixtures("sandbox")
def test_honest_solutions_pass_substitution(fast_weight: ExerciseSpec, cumulative: ExerciseSpec) -> None:
    for spec in (fast_weight, cumulative):
        check = graders.grade(spec, spec.solution.encode()).check("recurrence")
        assert check is not None and check.passed
        assert "from a memory built from another sequence, your update gave f of that memory" in check.message


@pytest.mark.usefixtures("sandbox")
def test_code_right_only_on_its_own_memories_fails_substitution(fast_weight: ExerciseSpec) -> None:
    report = graders.grade(fast_weight, GRID_ONLY.encode())
    assert [c.id for c in report.checks if not c.passed] == ["recurrence"], report.to_dict()
    check = report.check("recurrence")
    assert check is not None and check.counterexample is not None
    assert "right on the memories your own code produced, but not on a memory it was handed" in check.message
    assert "built from another sequence" in check.counterexample["text"]
    assert (
        check.counterexample["what"] == "M"
        and check.counterexample["got"] != check.counterexample["expected"]
    )


@pytest.mark.usefixtures("sandbox")
def test_substitution_waits_for_correctness(fast_weight: ExerciseSpec) -> None:
    # an honest but wrong recurrence is named by correctness alone; recurrence (student vs student) passes
    report = graders.grade(
        fast_weight, fast_weight_with(update='return {"M": mem["M"] + torch.outer(k, v)}\n').encode()
    )
    check = report.check("recurrence")
    assert (
        check is not None and check.passed and "runs once your memory matches the reference" in check.message
    )
