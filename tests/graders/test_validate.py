"""validate(): each exercise's solution passes, its starter does not, each wrong variant fails its named check."""

from __future__ import annotations

import dataclasses

import pytest

import graders
from graders.exercise import ExerciseSpec, WrongVariant

pytestmark = pytest.mark.usefixtures("sandbox")


@pytest.mark.parametrize("slug", [spec.slug for spec in graders.list_exercises()])
def test_every_exercise_validates(slug: str) -> None:
    result = graders.validate(graders.load_exercise(slug))
    assert result.ok, result.summary()
    names = {v.name for v in result.variants}
    assert {"solution", "starter"} <= names and len(names) >= 5


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
