"""The check registry: a new check is one file plus its registration, and the grading plans, runs, judges and
reports it without any other module knowing it (tests/graders/toy_check.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import graders
from graders import checks
from graders.exercise import ExerciseSpec
from graders.grading import Grading
from graders.sandbox.host import ZygoteHost
from tests.graders import toy_check


@pytest.fixture
def with_toy() -> Iterator[None]:
    checks.register("first_step", points=5, recurrent="tests.graders.toy_check")
    yield
    checks.unregister("first_step")


@pytest.fixture
def toy_spec(with_toy: None, cumulative: ExerciseSpec) -> ExerciseSpec:
    data = cumulative.to_dict()
    data["checks"] = [*data["checks"], {"id": "first_step", "points": 5}]
    return ExerciseSpec.from_dict(data)  # the spec validation knows the new id from the registry


def test_the_registry_lists_the_built_in_checks_in_execution_order() -> None:
    assert checks.ids() == (
        "interface", "correctness", "recurrence", "purity", "state_size", "step_cost", "complexity", "causality"
    )  # fmt: skip
    assert checks.ids_for("sequence") == ("interface", "correctness", "complexity", "causality")
    assert checks.implementation("correctness", "sequence") is not checks.implementation(
        "correctness", "recurrent"
    )


def test_an_unregistered_check_is_refused_by_the_spec(cumulative: ExerciseSpec) -> None:
    data = cumulative.to_dict()
    data["checks"] = [*data["checks"], {"id": "first_step", "points": 5}]
    with pytest.raises(graders.ExerciseError, match="needs an id among"):
        ExerciseSpec.from_dict(data)


def test_a_registered_toy_check_is_planned_run_judged_and_reported(
    sandbox: ZygoteHost, toy_spec: ExerciseSpec
) -> None:
    grading = Grading(toy_spec, toy_spec.solution, sandbox)
    report = grading.run("toy")
    assert report.verdict == "passed", report.to_dict()
    # planned, and run in a job of its own after the built-in ones (its registration comes last)
    assert list(grading.jobs) == ["visible", "hidden", "properties", toy_check.JOB]
    assert set(grading.jobs[toy_check.JOB].outputs) >= {"toy/m/0/k", "toy/m/0/v", "toy/m/0/n"}
    found = report.check("first_step")
    assert found is not None and found.passed and found.points == 5
    assert "matched the reference" in found.message
    assert [c["id"] for c in report.to_dict()["checks"]][-1] == "first_step"


def test_the_toy_check_fails_a_wrong_first_step_and_blames_it_alone(
    sandbox: ZygoteHost, toy_spec: ExerciseSpec
) -> None:
    off = toy_spec.solution.replace(
        '"k": (k + i * mem["k"]) / (i + 1)', '"k": (k + i * mem["k"]) / (i + 1) + 0.5'
    )
    assert off != toy_spec.solution
    report = Grading(toy_spec, off, sandbox).run("toy")
    found = report.check("first_step")
    assert found is not None and found.ran and not found.passed and found.points == 0
    assert "k differed from the reference" in found.message
    assert report.verdict == "failed"
