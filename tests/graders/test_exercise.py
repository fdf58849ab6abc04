"""Exercise specs: loading folders, the dict round trip the web app relies on, and the loader's limits."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

import graders
from graders.errors import ExerciseError, ExerciseNotFound
from graders.exercise import LIMIT_MAXIMA, ExerciseSpec

CONTENT = Path(__file__).resolve().parents[2] / "content"


def test_list_exercises_finds_both() -> None:
    slugs = [spec.slug for spec in graders.list_exercises()]
    assert {"fast-weight-memory", "cumulative-average-memory"} <= set(slugs)
    assert slugs == sorted(slugs)


def test_fast_weight_exercise_is_the_one_grading_md_fixes() -> None:
    spec = graders.load_exercise("fast-weight-memory")
    assert spec.model == "fast-weight" and spec.interface == "recurrent"
    assert spec.functions == ("init_memory", "update", "read")
    assert spec.state == {"M": ("d", "d")} and spec.params == {}
    assert {c.id for c in spec.checks} == {
        "interface",
        "correctness",
        "recurrence",
        "purity",
        "state_size",
        "step_cost",
    }


@pytest.mark.parametrize("slug", [spec.slug for spec in graders.list_exercises()])
def test_to_dict_round_trips_through_json(slug: str) -> None:
    spec = graders.load_exercise(slug)
    data = json.loads(json.dumps(spec.to_dict()))
    assert ExerciseSpec.from_dict(data) == spec
    assert data["statement"].startswith("#") and f"def {spec.functions[-1]}" in data["solution"]
    assert all(w["source"] for w in data["wrong"])


def test_load_by_path_and_by_content_dir(tmp_path: Path) -> None:
    by_path = graders.load_exercise(CONTENT / "exercises" / "fast-weight-memory")
    shutil.copytree(CONTENT / "exercises", tmp_path / "exercises")
    by_dir = graders.load_exercise("fast-weight-memory", content_dir=tmp_path)
    assert by_path == by_dir


@pytest.mark.parametrize("slug", ["nope", "../content", "fast-weight-memory/../x"])
def test_unknown_slugs_are_not_found(slug: str) -> None:
    with pytest.raises(ExerciseNotFound):
        graders.load_exercise(slug)


ONLY_INTERFACE = [{"id": "interface", "points": 1}]


def base() -> dict[str, object]:
    return graders.load_exercise("fast-weight-memory").to_dict()


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"limits": {"wall_s": 600}}, "at most 60"),
        ({"limits": {"memory_mb": 100000}}, "at most 4096"),
        ({"limits": {"cpu_s": 0}}, "above 0"),
        ({"limits": {"disk_mb": 1}}, "may set only"),
        ({"colour": "red"}, "unknown fields ['colour']"),
        ({"checks": [{"id": "speed", "points": 1}]}, "needs an id among"),
        ({"functions": ["update"]}, "interface's functions are"),
        ({"state": {"M": ["d", "n_c"]}}, "unknown sizes ['n_c']"),
        ({"dims": {"d": [0, 3]}}, "1 <= low <= high"),
        ({"wrong": [{"file": "x.py", "fails": "complexity"}]}, "must name a check"),
        ({"slug": "Bad Slug"}, "slug must be"),
        ({"interface": "tensor"}, "interface must be one of"),
        ({"interface": "sequence"}, "of the sequence interface needs an id"),
        ({"interface": "sequence", "checks": ONLY_INTERFACE}, "interface's functions are ['attend']"),
        ({"interface": "sequence", "checks": ONLY_INTERFACE, "functions": ["attend"]}, "declares no state"),
        ({"complexity_exponent": 0}, "complexity_exponent must be above 0"),
        ({"growing": "t"}, "growing must be a list of size names"),
        ({"growing": ["d"]}, "already d or hyper-parameters"),
    ],
)
def test_invalid_specs_are_refused_with_the_field_named(change: dict[str, object], complaint: str) -> None:
    with pytest.raises(ExerciseError, match=None) as info:
        ExerciseSpec.from_dict(base() | change)
    assert complaint in str(info.value)


def test_missing_limits_take_the_defaults() -> None:
    data = base()
    del data["limits"]
    spec = ExerciseSpec.from_dict(data)
    assert spec.limits == graders.Limits()
    assert spec.limits.wall_s <= LIMIT_MAXIMA["wall_s"]


def test_signatures_follow_grading_md() -> None:
    spec = graders.load_exercise("fast-weight-memory")
    assert spec.signature("update") == "def update(mem, k, v) -> dict[str, torch.Tensor]"
    assert spec.signature("read") == "def read(mem, q) -> torch.Tensor"


def test_the_window_exercise_is_a_sequence_exercise_with_an_integer_window() -> None:
    spec = graders.load_exercise("window-attention")
    assert spec.is_sequence and spec.functions == ("attend",) and spec.state == {}
    assert spec.params == {"n_c": 4} and type(spec.params["n_c"]) is int  # used in range(), slices
    assert [c.id for c in spec.checks] == ["interface", "correctness", "complexity", "causality"]
    assert spec.signature("attend") == "def attend(Q, K, V, n_c) -> torch.Tensor"


def test_a_growing_memory_names_what_grows_and_skips_the_fixed_size_checks() -> None:
    spec = graders.load_exercise("full-kv-cache-memory")
    assert spec.growing == ("t",) and spec.state == {"k": ("t", "d"), "v": ("t", "d")}
    assert not {"state_size", "step_cost"} & {c.id for c in spec.checks}
    from graders.validation import consistency_problems

    assert consistency_problems(spec) == []
    with_size = dataclasses.replace(spec, checks=(*spec.checks, graders.exercise.CheckSpec("state_size", 10)))
    assert any("grows by design" in p for p in consistency_problems(with_size))
    assert any(
        "growing must list ['t']" in p for p in consistency_problems(dataclasses.replace(spec, growing=()))
    )


@pytest.mark.parametrize("slug", [spec.slug for spec in graders.list_exercises()])
def test_every_exercise_has_what_a_student_needs(slug: str) -> None:
    spec = graders.load_exercise(slug)
    assert spec.statement.startswith("# ") and spec.starter.strip() and spec.solution.strip()
    assert len(spec.hints) >= 3 and len(spec.wrong) >= 3
    assert all(w.why for w in spec.wrong)  # each wrong variant says what mistake it stands for


def test_every_reference_model_has_an_exercise() -> None:
    import reference

    assert set(reference.MODELS) <= {spec.model for spec in graders.list_exercises()}
