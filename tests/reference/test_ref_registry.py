"""The registry: ids, lookup errors, HyperParam validation, and that `reference` stays free of Django."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import reference
from reference import registry
from reference.registry import HyperParam, ModelSpec, check_sequences, get_model, register

EXPECTED_IDS = {"cumulative-average", "fast-weight"}


def test_expected_models_are_registered() -> None:
    assert EXPECTED_IDS.issubset(reference.MODELS)


def test_every_key_is_its_spec_id() -> None:
    for key, spec in reference.MODELS.items():
        assert isinstance(spec, ModelSpec)
        assert key == spec.id


def test_package_exports() -> None:
    assert set(reference.__all__) == {"MODELS", "HyperParam", "ModelSpec", "attend_scan", "get_model"}
    assert reference.get_model is get_model
    assert reference.MODELS is registry.MODELS


@pytest.mark.parametrize("model_id", sorted(EXPECTED_IDS))
def test_get_model_returns_the_spec(model_id: str) -> None:
    assert get_model(model_id).id == model_id


def test_get_model_unknown_id_lists_known_ids() -> None:
    with pytest.raises(KeyError) as excinfo:
        get_model("no-such-model")
    message = str(excinfo.value)
    assert "no-such-model" in message
    for model_id in EXPECTED_IDS:
        assert model_id in message


def test_register_rejects_duplicate_ids() -> None:
    before = dict(registry.MODELS)
    with pytest.raises(ValueError, match="already registered"):
        register(get_model("fast-weight"))
    assert before == registry.MODELS


def test_register_adds_a_new_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = dataclasses.replace(get_model("fast-weight"), id="test-only")
    monkeypatch.setattr(registry, "MODELS", {})
    assert register(spec) is spec
    assert get_model("test-only") is spec


def test_model_spec_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_model("fast-weight").id = "other"  # type: ignore[misc]


def test_static_description() -> None:
    ca, fw = get_model("cumulative-average"), get_model("fast-weight")
    assert ca.state_layout == {"k": ("d",), "v": ("d",), "n": ()}
    assert fw.state_layout == {"M": ("d", "d")}
    assert (ca.fixed_size, ca.cost_per_step, ca.cost_total) == (True, "O(d)", "O(n d)")
    assert (fw.fixed_size, fw.cost_per_step, fw.cost_total) == (True, "O(d^2)", "O(n d^2)")
    assert ca.hyperparams == {} and fw.hyperparams == {}


def test_state_shapes_resolves_symbols() -> None:
    spec = dataclasses.replace(
        get_model("fast-weight"),
        hyperparams={"n_c": HyperParam("int", 1, 16, 4)},
        state_layout={"K": ("n_c", "d"), "c": ()},
    )
    assert spec.state_shapes(3, batch=(2,)) == {"K": (2, 4, 3), "c": (2,)}
    assert spec.state_shapes(3, n_c=7) == {"K": (7, 3), "c": ()}
    with pytest.raises(KeyError, match="d_v"):
        dataclasses.replace(spec, state_layout={"M": ("d_v", "d")}).state_shapes(3)


def test_hyperparam_accepts_valid_ranges() -> None:
    hp = HyperParam("float", 0.0, 1.0, 0.5)
    assert (hp.kind, hp.low, hp.high, hp.default) == ("float", 0.0, 1.0, 0.5)
    assert HyperParam("int", 1, 8, 1).default == 1


@pytest.mark.parametrize(
    ("kind", "low", "high", "default"),
    [
        ("float", 0.0, 1.0, 2.0),  # default above high
        ("float", 1.0, 0.0, 0.5),  # empty range
        ("int", 1, 8, 2.5),  # non-int default
        ("int", 1, 8, True),  # bool is not an int here
        ("complex", 0, 1, 0),  # unknown kind
    ],
)
def test_hyperparam_rejects_invalid(kind: str, low: float, high: float, default: float) -> None:
    with pytest.raises(ValueError):
        HyperParam(kind, low, high, default)  # type: ignore[arg-type]


def test_check_sequences_rejects_bad_inputs() -> None:
    x = torch.zeros(2, 5, 3)
    with pytest.raises(ValueError):
        check_sequences(x, torch.zeros(2, 4, 3))  # different T
    with pytest.raises(ValueError):
        check_sequences(torch.zeros(3), torch.zeros(3))  # no time axis
    with pytest.raises(TypeError):
        check_sequences(x.long(), x.long())
    assert check_sequences(x, x.double()) == torch.float64


def test_reference_imports_neither_django_nor_celery() -> None:
    code = (
        "import sys, reference\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'celery', 'apps', 'graders'})\n"
        "assert not bad, bad\n"
    )
    root = Path(reference.__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
