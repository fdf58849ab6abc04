"""The submission-independent half of a grading is built once per exercise version and shared."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import graders
from graders import prepared as prepared_module
from graders.checks import correctness
from graders.exercise import ExerciseSpec
from graders.grading import Grading
from graders.prepared import prepared
from graders.sandbox.child.tensorwire import pack
from graders.sandbox.host import ZygoteHost


def test_one_exercise_version_is_prepared_once_and_an_edit_gets_its_own(cumulative: ExerciseSpec) -> None:
    first = prepared(cumulative)
    again = prepared(graders.ExerciseSpec.from_dict(cumulative.to_dict()))  # as a worker builds it
    assert again is first and again.cases is first.cases
    assert again.keep("some-check", object) is first.keep("some-check", object)  # built once, then kept
    edited = prepared(dataclasses.replace(cumulative, seed=cumulative.seed + 1))
    assert edited is not first
    assert not torch.equal(edited.shown[-1].K, first.shown[-1].K)  # its own cases, from its own seed


def test_only_the_latest_versions_are_kept(cumulative: ExerciseSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prepared_module, "KEEP", 2)
    monkeypatch.setattr(prepared_module, "_kept", prepared_module.OrderedDict())
    versions = [dataclasses.replace(cumulative, seed=seed) for seed in (1, 2, 3)]
    first = prepared(versions[0])
    prepared(versions[1])
    assert prepared(versions[0]) is first  # used again: now the latest
    prepared(versions[2])  # pushes out versions[1], the least recently used
    assert prepared(versions[0]) is first and len(prepared_module._kept) == 2
    assert repr(versions[1]) not in prepared_module._kept


def test_a_kept_plan_is_packed_once_and_again_only_when_inputs_were_added(cumulative: ExerciseSpec) -> None:
    plan = correctness.kept_plans(Grading(cumulative, ""))[0]  # the visible job's, kept with the exercise
    assert correctness.kept_plans(Grading(cumulative, "other"))[0] is plan
    body = plan.body()
    assert plan.job("x = 1\n").body is body and body == pack(plan.inputs)
    extra = dataclasses.replace(plan, inputs=dict(plan.inputs), _body=None)
    extra.body()
    extra.inputs["extra"] = torch.ones(3)
    assert extra.body() == pack(extra.inputs) != body


@pytest.mark.usefixtures("sandbox")
def test_gradings_of_one_exercise_share_the_prepared_half(
    cumulative: ExerciseSpec, sandbox: ZygoteHost
) -> None:
    wrong = next(w for w in cumulative.wrong if w.fails == "correctness")
    right = Grading(cumulative, cumulative.solution, sandbox)
    assert right.run("a").verdict == "passed"
    other = Grading(cumulative, wrong.source, sandbox)
    assert other.prep is right.prep
    report = other.run("b")
    assert report.check("correctness") is not None and not report.check("correctness").passed  # type: ignore[union-attr]
    assert Grading(cumulative, cumulative.solution, sandbox).run("c").verdict == "passed"
