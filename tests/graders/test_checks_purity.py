"""The ``purity`` check: arguments compared byte for byte after the call, and repeated calls."""

from __future__ import annotations

import pytest
import torch

import graders
from graders.checks import purity
from graders.exercise import ExerciseSpec
from graders.report import CheckResult
from tests.graders.submissions import fast_weight_with

OUTER = 'return {"M": mem["M"] + torch.outer(v, k)}\n'


def purity_of(spec: ExerciseSpec, source: str) -> tuple[str, CheckResult]:
    report = graders.grade(spec, source.encode("utf-8"))
    check = report.check("purity")
    assert check is not None and check.ran
    return report.verdict, check


def test_same_bytes_is_exact() -> None:
    x = torch.tensor([0.0, 1.5])
    assert purity._same_bytes(x, x.clone())
    assert not purity._same_bytes(x, torch.tensor([-0.0, 1.5]))  # equal values, other bytes
    assert not purity._same_bytes(x, x.double())
    assert not purity._same_bytes(x, x.reshape(2, 1))
    assert purity._same_bytes(torch.tensor(3.0), torch.tensor(3.0))


def test_changed_args_names_the_first_change_and_added_entries() -> None:
    mem = {"M": torch.ones(2, 2)}
    k = torch.tensor([1.0, 2.0])
    same = {"a/mem/M": torch.ones(2, 2), "a/k": k.clone()}
    assert purity._changed_args(mem, {"k": k}, same, "a") is None
    changed = purity._changed_args(mem, {"k": k}, same | {"a/k": k * 2}, "a")
    assert changed is not None and changed.name == "k" and changed.after is not None
    gone = purity._changed_args(mem, {"k": k}, {"a/k": k.clone()}, "a")
    assert gone is not None and gone.name == 'mem["M"]' and gone.after is None
    added = purity._changed_args(mem, {"k": k}, same | {"a/mem/extra": k}, "a")
    assert added is not None and added.name == 'mem["extra"]' and added.sent is None


@pytest.mark.usefixtures("sandbox")
def test_honest_solutions_are_pure(fast_weight: ExerciseSpec, cumulative: ExerciseSpec) -> None:
    for spec in (fast_weight, cumulative):
        verdict, check = purity_of(spec, spec.solution)
        assert verdict == "passed" and check.passed and "byte for byte" in check.message


@pytest.mark.usefixtures("sandbox")
@pytest.mark.parametrize(
    ("update", "read", "expected"),
    [
        ('mem["M"] += torch.outer(v, k)\nreturn mem\n', "", 'changed mem["M"] of the memory'),
        ('mem["M"] = mem["M"] + torch.outer(v, k)\nreturn mem\n', "", 'changed mem["M"] of the memory'),
        ('mem["last"] = k\n' + OUTER, "", 'added the entry mem["last"]'),
        ('out = mem["M"] + torch.outer(v, k)\nk.zero_()\nreturn {"M": out}\n', "", "argument k in place"),
        ("", 'y = mem["M"] @ q\nq.mul_(2)\nreturn y\n', "Your `read` changed its argument q in place"),
        ("", 'y = mem["M"] @ q\nmem["M"] = mem["M"].T\nreturn y\n', 'Your `read` changed mem["M"]'),
    ],
)
def test_mutations_fail_purity_only(fast_weight: ExerciseSpec, update: str, read: str, expected: str) -> None:
    report = graders.grade(fast_weight, fast_weight_with(update=update, read=read).encode())
    failed = [c.id for c in report.checks if not c.passed]
    assert report.verdict == "failed" and failed == ["purity"], report.to_dict()  # right values otherwise
    check = report.check("purity")
    assert check is not None and expected in check.message
    assert check.counterexample is not None and "before" in check.counterexample
    assert check.counterexample["text"].startswith("On a long sequence (T = 50) (d = 4): ")


@pytest.mark.usefixtures("sandbox")
def test_a_result_that_changes_between_identical_calls_fails(cumulative: ExerciseSpec) -> None:
    history = next(w for w in cumulative.wrong if w.file == "history.py")
    verdict, check = purity_of(cumulative, history.source)
    assert verdict == "failed" and not check.passed
    assert "twice with the same arguments gave two different results" in check.message
    assert check.counterexample is not None
    assert check.counterexample["first"] != check.counterexample["second"]


@pytest.mark.usefixtures("sandbox")
def test_a_read_that_writes_into_the_memory_fails_correctness_and_purity(fast_weight: ExerciseSpec) -> None:
    # the runner's streams share tensors with what read is given, so the next update sees the damage too
    source = fast_weight_with(read='mem["M"].mul_(1.5)\nreturn mem["M"] @ q / 1.5\n')
    report = graders.grade(fast_weight, source.encode())
    assert {"correctness", "purity"} <= {c.id for c in report.checks if not c.passed}
    check = report.check("purity")
    assert check is not None and 'Your `read` changed mem["M"]' in check.message
