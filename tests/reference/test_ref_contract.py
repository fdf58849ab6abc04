"""The contract of docs/INTERFACES.md, checked for every registered model (new models are picked up here)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import MODELS, ModelSpec

SPECS = [MODELS[model_id] for model_id in sorted(MODELS)]
PARALLEL_SPECS = [spec for spec in SPECS if spec.parallel is not None]
READ_SPECS = [spec for spec in SPECS if spec.read is not None]


def _hp(spec: ModelSpec) -> dict[str, Any]:
    return {name: hp.default for name, hp in spec.hyperparams.items()}


def _randn(seed: int, *shape: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _assert_close(actual: torch.Tensor, expected: torch.Tensor, rel: float = 1e-9) -> None:
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    scale = 1.0 + (expected.abs().max().item() if expected.numel() else 0.0)
    err = (actual - expected).abs().max().item() if expected.numel() else 0.0
    assert err <= rel * scale, f"max abs error {err:.3e} > {rel:.0e} * {scale:.3e}"


def _bytes(state: dict[str, torch.Tensor]) -> dict[str, tuple[torch.dtype, tuple[int, ...], bytes]]:
    return {name: (x.dtype, tuple(x.shape), x.numpy().tobytes()) for name, x in state.items()}


spec_param = pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)

sizes = st.fixed_dictionaries(
    {
        "B": st.integers(1, 3),
        "H": st.integers(1, 3),
        "T": st.integers(1, 40),
        "D": st.integers(1, 8),
        "seed": st.integers(0, 2**32 - 1),
    }
)


@pytest.mark.parametrize("spec", PARALLEL_SPECS, ids=lambda s: s.id)
@settings(max_examples=50, deadline=None)
@given(n=sizes, offset=st.sampled_from([0.0, 1.0, 50.0]))
def test_scan_equals_parallel(spec: ModelSpec, n: dict[str, int], offset: float) -> None:
    assert spec.parallel is not None
    K = _randn(n["seed"], n["B"], n["H"], n["T"], n["D"]) + offset
    V = _randn(n["seed"] + 1, n["B"], n["H"], n["T"], n["D"]) - offset
    scanned, parallel = spec.scan(K, V, **_hp(spec)), spec.parallel(K, V, **_hp(spec))
    assert scanned.keys() == parallel.keys() == spec.state_layout.keys()
    for name in scanned:
        _assert_close(parallel[name], scanned[name])


@spec_param
@settings(max_examples=25, deadline=None)
@given(n=sizes)
def test_scan_is_the_loop_of_step(spec: ModelSpec, n: dict[str, int]) -> None:
    B, H, T, D = n["B"], n["H"], min(n["T"], 12), n["D"]
    K, V = _randn(n["seed"], B, H, T, D), _randn(n["seed"] + 1, B, H, T, D)
    scanned = spec.scan(K, V, **_hp(spec))
    mem = spec.init(D, batch=(B, H), dtype=torch.float64, **_hp(spec))
    for t in range(T):
        mem = spec.step(mem, K[:, :, t], V[:, :, t], **_hp(spec))
        for name, x in mem.items():
            assert torch.equal(scanned[name][:, :, t], x), (name, t)


@spec_param
@pytest.mark.parametrize("batch", [(), (2,), (2, 3)])
def test_layout_matches_init(spec: ModelSpec, batch: tuple[int, ...]) -> None:
    mem = spec.init(5, batch=batch, **_hp(spec))
    assert {name: tuple(x.shape) for name, x in mem.items()} == spec.state_shapes(5, batch=batch)
    for x in mem.values():
        assert x.dtype == torch.float32 and x.device.type == "cpu"
        assert torch.all(x == 0), "Mem_{-1} must be zero-initialised"


@spec_param
def test_scan_layout_has_a_time_axis(spec: ModelSpec) -> None:
    B, H, T, D = 2, 3, 4, 5
    out = spec.scan(_randn(0, B, H, T, D), _randn(1, B, H, T, D), **_hp(spec))
    expected = spec.state_shapes(D, batch=(B, H, T))
    assert {name: tuple(x.shape) for name, x in out.items()} == expected


@spec_param
def test_state_size_never_grows(spec: ModelSpec) -> None:
    assert spec.fixed_size
    d, batch = 4, (2,)
    mem = spec.init(d, batch=batch, **_hp(spec))
    sizes_seen = []
    for t in range(50):
        mem = spec.step(
            mem,
            _randn(2 * t, *batch, d, dtype=torch.float32),
            _randn(2 * t + 1, *batch, d, dtype=torch.float32),
        )
        sizes_seen.append({name: x.numel() for name, x in mem.items()})
    assert (
        sizes_seen[0] == sizes_seen[-1] == {name: x.numel() for name, x in spec.init(d, batch=batch).items()}
    )


@spec_param
def test_step_is_pure(spec: ModelSpec) -> None:
    d = 3
    mem = spec.step(spec.init(d, batch=(2,), dtype=torch.float64), _randn(0, 2, d), _randn(1, 2, d))
    k, v = _randn(2, 2, d), _randn(3, 2, d)
    before = _bytes(mem), _bytes({"k": k, "v": v})
    out = spec.step(mem, k, v, **_hp(spec))
    assert (_bytes(mem), _bytes({"k": k, "v": v})) == before
    # the new state shares no memory with the inputs: writing into it leaves them alone
    for x in out.values():
        x.add_(1.0)
    assert (_bytes(mem), _bytes({"k": k, "v": v})) == before


@spec_param
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_and_device_are_preserved(spec: ModelSpec, dtype: torch.dtype) -> None:
    d = 4
    mem = spec.init(d, batch=(2,), dtype=dtype, device=torch.device("cpu"))
    k, v = _randn(0, 2, d, dtype=dtype), _randn(1, 2, d, dtype=dtype)
    mem = spec.step(mem, k, v, **_hp(spec))
    outputs = list(mem.values())
    if spec.read is not None:
        outputs.append(spec.read(mem, _randn(2, 2, d, dtype=dtype), **_hp(spec)))
    K, V = _randn(3, 1, 2, 6, d, dtype=dtype), _randn(4, 1, 2, 6, d, dtype=dtype)
    outputs += list(spec.scan(K, V, **_hp(spec)).values())
    if spec.parallel is not None:
        outputs += list(spec.parallel(K, V, **_hp(spec)).values())
    for x in outputs:
        assert x.dtype == dtype and x.device.type == "cpu"
    # a float64 pair promotes the whole state of a float32 memory
    promoted = spec.step(spec.init(d, dtype=torch.float32), _randn(5, d), _randn(6, d), **_hp(spec))
    assert {x.dtype for x in promoted.values()} == {torch.float64}


@spec_param
def test_step_broadcasts_over_batch_dims(spec: ModelSpec) -> None:
    d = 3
    mem = spec.step(spec.init(d, batch=(3, 1), dtype=torch.float64), _randn(0, 3, 1, d), _randn(1, 3, 1, d))
    k, v = _randn(2, 1, 4, d), _randn(3, 1, 4, d)
    out = spec.step(mem, k, v, **_hp(spec))
    expanded = spec.step(
        {name: x.expand(3, 4, *x.shape[2:]) for name, x in mem.items()},
        k.expand(3, 4, d),
        v.expand(3, 4, d),
        **_hp(spec),
    )
    for name in out:
        assert out[name].shape == expanded[name].shape
        _assert_close(out[name], expanded[name], rel=1e-12)
    # a state without batch dims takes a batch of pairs too
    single = spec.step(spec.init(d, dtype=torch.float64), k[0], v[0], **_hp(spec))
    assert {name: tuple(x.shape) for name, x in single.items()} == spec.state_shapes(d, batch=(4,))


@pytest.mark.parametrize("spec", READ_SPECS, ids=lambda s: s.id)
def test_read_shape(spec: ModelSpec) -> None:
    assert spec.read is not None
    d = 4
    mem = spec.step(spec.init(d, batch=(2, 3), dtype=torch.float64), _randn(0, 2, 3, d), _randn(1, 2, 3, d))
    assert spec.read(mem, _randn(2, 2, 3, d), **_hp(spec)).shape == (2, 3, d)


@spec_param
def test_empty_sequence(spec: ModelSpec) -> None:
    K = torch.zeros(2, 0, 3)
    expected = spec.state_shapes(3, batch=(2, 0))
    assert {name: tuple(x.shape) for name, x in spec.scan(K, K, **_hp(spec)).items()} == expected
    if spec.parallel is not None:
        assert {name: tuple(x.shape) for name, x in spec.parallel(K, K, **_hp(spec)).items()} == expected
