"""validate(): each exercise's solution passes, its starter does not, each wrong variant fails its named check.

Each exercise's whole outcome (every variant's verdict, and each check's id, pass, whether it ran, and points) is
also compared with the record in ``tests/graders/golden/<slug>.json``: the grader's behaviour stays the same
across a refactor (issue 18). After a change that is meant to change an outcome, write the records again with
``MEMLAB_WRITE_GOLDEN=1 .venv/bin/python -m pytest tests/graders/test_validate.py`` and review their diff.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

import graders
from graders.exercise import ExerciseSpec, WrongVariant

pytestmark = pytest.mark.usefixtures("sandbox")


GOLDEN = Path(__file__).resolve().parent / "golden"


def record(result: graders.ValidationResult) -> dict[str, object]:
    """What a grader version must reproduce: per variant, the verdict and each check's outcome and points."""
    return {
        v.name: {
            "verdict": v.verdict,
            "checks": {
                check: f"{'passed' if passed else 'failed' if ran else 'not run'}, {points:g} points"
                for check, passed, ran, points in v.checks
            },
        }
        for v in result.variants
    }


@pytest.mark.parametrize("slug", [spec.slug for spec in graders.list_exercises()])
def test_every_exercise_validates(slug: str) -> None:
    result = graders.validate(graders.load_exercise(slug))
    assert result.ok, result.summary()
    names = {v.name for v in result.variants}
    assert {"solution", "starter"} <= names and len(names) >= 5
    path = GOLDEN / f"{slug}.json"
    if os.environ.get("MEMLAB_WRITE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(record(result), indent=1) + "\n")
    assert path.exists(), (
        f"no record of {slug}'s outcomes: write it with MEMLAB_WRITE_GOLDEN=1 (module docstring)"
    )
    assert record(result) == json.loads(path.read_text()), result.summary()


def test_a_variant_that_fails_another_check_makes_the_exercise_invalid(fast_weight: ExerciseSpec) -> None:
    transposed = next(w for w in fast_weight.wrong if w.file == "transposed.py")
    mislabeled = WrongVariant(file="transposed.py", fails="recurrence", source=transposed.source)
    result = graders.validate(dataclasses.replace(fast_weight, wrong=(mislabeled,)))
    assert not result.ok
    assert "FAIL" in result.summary()


def test_a_layout_that_disagrees_with_the_model_is_reported(fast_weight: ExerciseSpec) -> None:
    result = graders.validate(dataclasses.replace(fast_weight, state={"W": ("d", "d")}))
    assert not result.ok and "differs from the model's layout" in result.problems[0]


@pytest.mark.parametrize(
    ("params", "complaint"),
    [
        ({"alpha": 0.5}, "unknown hyper-parameters ['alpha']"),
        ({"n_c": 3}, "unknown hyper-parameters ['n_c']"),
    ],
)
def test_params_the_model_does_not_take_are_reported(
    fast_weight: ExerciseSpec, params: dict[str, float], complaint: str
) -> None:
    result = graders.validate(dataclasses.replace(fast_weight, params=params))
    assert not result.ok and any(complaint in p for p in result.problems), result.problems


def test_params_outside_the_model_range_are_reported(fast_weight: ExerciseSpec) -> None:
    window = dataclasses.replace(
        fast_weight, model="window", state={"k": ("n_c", "d"), "v": ("n_c", "d"), "n": ()}
    )
    result = graders.validate(dataclasses.replace(window, params={"n_c": 0}))
    assert not result.ok and any("n_c=0 is outside" in p for p in result.problems), result.problems
