"""The contract of docs/INTERFACES.md, checked for every registered model (new models are picked up here)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from reference import MODELS, ModelSpec
from reference.registry import attend_scan
from tests.support.tensors import assert_close as _assert_close

SPECS = [MODELS[model_id] for model_id in sorted(MODELS)]
PARALLEL_SPECS = [spec for spec in SPECS if spec.parallel is not None]
READ_SPECS = [spec for spec in SPECS if spec.read is not None]
ATTEND_SPECS = [spec for spec in SPECS if spec.attend_parallel is not None]
FIXED_SPECS = [spec for spec in SPECS if spec.fixed_size]
GROWING_SPECS = [spec for spec in SPECS if not spec.fixed_size]


def _hp(spec: ModelSpec) -> dict[str, Any]:
    return {name: hp.default for name, hp in spec.hyperparams.items()}


# int hyper-parameters are capped so that windows, segments and chunks stay comparable to T <= 80
INT_CAP = 12


@st.composite
def hyperparams(draw: st.DrawFn, spec: ModelSpec) -> dict[str, Any]:
    """A valid draw from every hyper-parameter's range (and the model's rule across them)."""
    hp: dict[str, Any] = {}
    for name, p in spec.hyperparams.items():
        if p.kind == "int":
            hp[name] = draw(st.integers(int(p.low), max(int(p.low), min(int(p.high), INT_CAP))))
        else:
            hp[name] = draw(st.floats(float(p.low), float(p.high), allow_nan=False))
    try:
        spec.check_hyperparams(hp)
    except ValueError:
        assume(False)
    return hp


def _randn(seed: int, *shape: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


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
@given(n=sizes, offset=st.sampled_from([0.0, 1.0, 50.0]), data=st.data())
def test_scan_equals_parallel(spec: ModelSpec, n: dict[str, int], offset: float, data: st.DataObject) -> None:
    assert spec.parallel is not None
    hp = data.draw(hyperparams(spec))
    K = _randn(n["seed"], n["B"], n["H"], n["T"], n["D"]) + offset
    V = _randn(n["seed"] + 1, n["B"], n["H"], n["T"], n["D"]) - offset
    scanned, parallel = spec.scan(K, V, **hp), spec.parallel(K, V, **hp)
    assert scanned.keys() == parallel.keys() == spec.state_layout.keys()
    for name in scanned:
        _assert_close(parallel[name], scanned[name])


long_sizes = st.fixed_dictionaries(
    {
        "B": st.integers(1, 2),
        "H": st.integers(1, 2),
        "T": st.integers(1, 80),  # crosses block, chunk and segment boundaries at most hyper-parameters
        "D": st.integers(1, 6),
        "seed": st.integers(0, 2**32 - 1),
    }
)


@pytest.mark.parametrize("spec", ATTEND_SPECS, ids=lambda s: s.id)
@settings(max_examples=40, deadline=None)
@given(n=long_sizes, offset=st.sampled_from([0.0, 1.0, 30.0]), data=st.data())
def test_attend_parallel_equals_the_step_loop(
    spec: ModelSpec, n: dict[str, int], offset: float, data: st.DataObject
) -> None:
    """Every parallel read-out equals stepping and reading token by token (float64, norm-relative)."""
    assert spec.attend_parallel is not None
    hp = data.draw(hyperparams(spec))
    B, H, T, D = n["B"], n["H"], n["T"], n["D"]
    Q = _randn(n["seed"], B, H, T, D)
    K = _randn(n["seed"] + 1, B, H, T, D) + offset
    V = _randn(n["seed"] + 2, B, H, T, D) - offset
    _assert_close(spec.attend_parallel(Q, K, V, **hp), attend_scan(spec, Q, K, V, **hp))


@pytest.mark.parametrize("spec", ATTEND_SPECS, ids=lambda s: s.id)
@settings(max_examples=25, deadline=None)
@given(n=long_sizes, cut=st.integers(0, 79), data=st.data())
def test_attend_parallel_is_causal(spec: ModelSpec, n: dict[str, int], cut: int, data: st.DataObject) -> None:
    """Changing queries, keys and values after position t leaves every read-out up to t as it was."""
    assert spec.attend_parallel is not None
    hp = data.draw(hyperparams(spec))
    B, H, T, D = n["B"], n["H"], n["T"], n["D"]
    t = min(cut, T - 1)
    Q, K, V = (_randn(n["seed"] + i, B, H, T, D) for i in range(3))
    before = spec.attend_parallel(Q, K, V, **hp)
    later = [X.clone() for X in (Q, K, V)]
    for i, X in enumerate(later):
        X[:, :, t + 1 :] = 100.0 * _randn(n["seed"] + 7 + i, B, H, T - t - 1, D)
    after = spec.attend_parallel(*later, **hp)
    _assert_close(after[:, :, : t + 1], before[:, :, : t + 1], rel=1e-12)


@pytest.mark.parametrize("spec", ATTEND_SPECS, ids=lambda s: s.id)
def test_attend_parallel_float32_tracks_float64(spec: ModelSpec) -> None:
    """A long float32 run with a large offset stays close to the float64 result (the tolerance scales with the norm)."""
    assert spec.attend_parallel is not None
    T, D = 3000, 8
    Q = _randn(0, 1, 2, T, D) / D**0.5
    K = _randn(1, 1, 2, T, D) / D**0.5 + 0.5
    V = _randn(2, 1, 2, T, D) + 100.0
    exact = spec.attend_parallel(Q, K, V, **_hp(spec))
    single = spec.attend_parallel(Q.float(), K.float(), V.float(), **_hp(spec))
    assert single.dtype == torch.float32
    _assert_close(single.double(), exact, rel=1e-4)


@spec_param
@settings(max_examples=25, deadline=None)
@given(n=sizes, data=st.data())
def test_scan_is_the_loop_of_step(spec: ModelSpec, n: dict[str, int], data: st.DataObject) -> None:
    hp = data.draw(hyperparams(spec))
    B, H, T, D = n["B"], n["H"], min(n["T"], 12), n["D"]
    K, V = _randn(n["seed"], B, H, T, D), _randn(n["seed"] + 1, B, H, T, D)
    scanned = spec.scan(K, V, **hp)
    mem = spec.init(D, batch=(B, H), dtype=torch.float64, **hp)
    for t in range(T):
        mem = spec.step(mem, K[:, :, t], V[:, :, t], **hp)
        if spec.fixed_size:
            for name, x in mem.items():
                assert torch.equal(scanned[name][:, :, t], x), (name, t)
    if not spec.fixed_size:  # a growing memory's scan returns the last state
        assert scanned.keys() == mem.keys()
        for name, x in mem.items():
            assert torch.equal(scanned[name], x), name


@spec_param
@pytest.mark.parametrize("batch", [(), (2,), (2, 3)])
def test_layout_matches_init(spec: ModelSpec, batch: tuple[int, ...]) -> None:
    mem = spec.init(5, batch=batch, **_hp(spec))
    assert {name: tuple(x.shape) for name, x in mem.items()} == spec.state_shapes(5, batch=batch)
    for x in mem.values():
        assert x.dtype == torch.float32 and x.device.type == "cpu"
        assert torch.all(x == 0), "Mem_{-1} must be zero-initialised"


@pytest.mark.parametrize("spec", FIXED_SPECS, ids=lambda s: s.id)
def test_scan_layout_has_a_time_axis(spec: ModelSpec) -> None:
    B, H, T, D = 2, 3, 4, 5
    out = spec.scan(_randn(0, B, H, T, D), _randn(1, B, H, T, D), **_hp(spec))
    expected = spec.state_shapes(D, batch=(B, H, T))
    assert {name: tuple(x.shape) for name, x in out.items()} == expected


@pytest.mark.parametrize("spec", GROWING_SPECS, ids=lambda s: s.id)
def test_a_growing_state_grows(spec: ModelSpec) -> None:
    d = 4
    mem = spec.init(d, batch=(2,), **_hp(spec))
    sizes_seen = []
    for t in range(64):
        mem = spec.step(
            mem, _randn(2 * t, 2, d, dtype=torch.float32), _randn(2 * t + 1, 2, d, dtype=torch.float32)
        )
        sizes_seen.append(sum(x.numel() for x in mem.values()))
    assert sizes_seen[-1] > sizes_seen[7] > 0


@pytest.mark.parametrize("spec", FIXED_SPECS, ids=lambda s: s.id)
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
    batched = spec.step(spec.init(d, batch=(4,), dtype=torch.float64), k[0], v[0], **_hp(spec))
    assert single.keys() == batched.keys()
    for name in single:
        _assert_close(single[name], batched[name], rel=1e-12)
    if spec.fixed_size:
        assert {name: tuple(x.shape) for name, x in single.items()} == spec.state_shapes(d, batch=(4,))


@pytest.mark.parametrize("spec", READ_SPECS, ids=lambda s: s.id)
def test_read_shape(spec: ModelSpec) -> None:
    assert spec.read is not None
    d = 4
    mem = spec.step(spec.init(d, batch=(2, 3), dtype=torch.float64), _randn(0, 2, 3, d), _randn(1, 2, 3, d))
    assert spec.read(mem, _randn(2, 2, 3, d), **_hp(spec)).shape == (2, 3, d)


@spec_param
def test_function_defaults_match_the_registry(spec: ModelSpec) -> None:
    """Calling without hyper-parameters means the registry's defaults: the keyword defaults must agree."""
    fns = [spec.init, spec.step, spec.scan, spec.read, spec.parallel, spec.attend_parallel]
    for fn in fns:
        if fn is None:
            continue
        params = inspect.signature(fn).parameters
        for name, hp in spec.hyperparams.items():
            assert name in params, f"{fn.__name__} does not take {name}"
            assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, (
                f"{fn.__name__}: {name} is not keyword-only"
            )
            assert params[name].default == hp.default, (
                f"{fn.__name__}: {name} defaults to {params[name].default}"
            )


def test_every_model_describes_itself() -> None:
    for spec in SPECS:
        assert (
            spec.title
            and spec.paper
            and spec.cost_per_step.startswith("O(")
            and spec.cost_total.startswith("O(")
        )
        assert spec.read is not None, f"{spec.id}: every memory is read by attention or a read-out"
        if spec.attend_parallel is not None:
            assert spec.parallel_form, f"{spec.id}: name the algorithm behind attend_parallel"
        module = inspect.getmodule(spec.step)
        assert module is not None and module.__doc__ and len(module.__doc__) > 300, (
            f"{spec.id}: module docstring"
        )


@spec_param
def test_empty_sequence(spec: ModelSpec) -> None:
    K = torch.zeros(2, 0, 3)
    # no steps: an empty time axis, or for a growing memory the empty memory itself
    expected = spec.state_shapes(3, batch=(2, 0) if spec.fixed_size else (2,))
    assert {name: tuple(x.shape) for name, x in spec.scan(K, K, **_hp(spec)).items()} == expected
    if spec.parallel is not None:
        assert {name: tuple(x.shape) for name, x in spec.parallel(K, K, **_hp(spec)).items()} == expected
