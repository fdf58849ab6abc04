"""Recurrent cache: the Elman and GRU memories against torch.nn.RNNCell / nn.GRUCell loaded with the same weights."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.rnn import (
    CellWeights,
    RNNWeights,
    rnn_elman_scan,
    rnn_elman_step,
    rnn_gru_scan,
    rnn_gru_step,
    rnn_init,
    rnn_read,
    rnn_weights,
)

sizes = st.fixed_dictionaries(
    {
        "B": st.integers(1, 3),
        "T": st.integers(1, 30),
        "D": st.integers(1, 8),
        "D_v": st.integers(1, 6),
        "seed": st.integers(0, 2**31 - 1),
    }
)
SCANS = {"elman": rnn_elman_scan, "gru": rnn_gru_scan}
STEPS = {"elman": rnn_elman_step, "gru": rnn_gru_step}


def _torch_cell(cell: str, w: CellWeights) -> torch.nn.RNNCellBase:
    """PyTorch's own cell with our weights copied in (float64)."""
    width = w.w_hh.shape[1]
    module: torch.nn.RNNCellBase = (
        torch.nn.RNNCell(width, width, nonlinearity="tanh", dtype=torch.float64)
        if cell == "elman"
        else torch.nn.GRUCell(width, width, dtype=torch.float64)
    )
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(module, name).copy_(getattr(w, name.replace("weight", "w").replace("bias", "b")))
    return module


def _torch_run(cell: str, w: CellWeights, X: torch.Tensor) -> torch.Tensor:
    """Every hidden state of PyTorch's cell over ``X: (B, T, width)``, from h = 0."""
    module = _torch_cell(cell, w)
    h = torch.zeros(X.shape[0], X.shape[2], dtype=torch.float64)
    out = []
    with torch.no_grad():
        for t in range(X.shape[1]):
            h = module(X[:, t], h)
            out.append(h)
    return torch.stack(out, dim=1)  # (B, T, width)


def _data(n: dict[str, int]) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(n["seed"])
    K = torch.randn(n["B"], n["T"], n["D"], generator=g, dtype=torch.float64) * 2
    V = torch.randn(n["B"], n["T"], n["D_v"], generator=g, dtype=torch.float64) * 2
    return K, V


def _assert_close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    assert (actual - expected).abs().max().item() <= 1e-12


@pytest.mark.parametrize("cell", ["elman", "gru"])
@settings(max_examples=20, deadline=None)
@given(n=sizes)
def test_seeded_weights_match_torch_cells(cell: str, n: dict[str, int]) -> None:
    """The key cell runs over the keys, the value cell over the values, each exactly like nn.RNNCell / nn.GRUCell."""
    K, V = _data(n)
    seed = n["seed"] % 50  # a few seeds, so the weight cache is exercised too
    out = SCANS[cell](K, V, seed=seed)
    w = rnn_weights(cell, n["D"], d_v=n["D_v"], seed=seed, dtype=torch.float64)
    _assert_close(out["k"], _torch_run(cell, w.key, K))
    _assert_close(out["v"], _torch_run(cell, w.value, V))


@pytest.mark.parametrize("cell", ["elman", "gru"])
@settings(max_examples=10, deadline=None)
@given(n=sizes)
def test_given_weights_are_used(cell: str, n: dict[str, int]) -> None:
    """``weights=`` replaces the seeded weights; float32 weights are cast to a float64 state."""
    K, V = _data(n)
    g = torch.Generator().manual_seed(n["seed"])
    gates = 1 if cell == "elman" else 3

    def draw(h: int) -> CellWeights:
        shapes = [(gates * h, h), (gates * h, h), (gates * h,), (gates * h,)]
        return CellWeights(*(torch.randn(s, generator=g) for s in shapes))  # float32 on purpose

    weights = RNNWeights(key=draw(n["D"]), value=draw(n["D_v"]))
    out = SCANS[cell](K, V, weights=weights)
    assert out["k"].dtype == torch.float64
    _assert_close(out["k"], _torch_run(cell, weights.key.to(torch.float64, torch.device("cpu")), K))
    _assert_close(out["v"], _torch_run(cell, weights.value.to(torch.float64, torch.device("cpu")), V))
    assert not torch.equal(out["k"], SCANS[cell](K, V)["k"])


def test_seeded_weights_are_deterministic_cached_and_untouched() -> None:
    a = rnn_weights("gru", 4, d_v=3, seed=11, dtype=torch.float64)
    assert a is not None and a.key.w_ih is rnn_weights("gru", 4, d_v=3, seed=11, dtype=torch.float64).key.w_ih
    assert a.key.w_ih.shape == (12, 4) and a.value.w_hh.shape == (9, 3) and a.value.b_ih.shape == (9,)
    assert torch.all(a.key.w_ih.abs() <= 4**-0.5) and torch.all(a.value.w_ih.abs() <= 3**-0.5)
    assert not torch.equal(a.key.w_ih, rnn_weights("gru", 4, d_v=3, seed=12, dtype=torch.float64).key.w_ih)
    same_width = rnn_weights("gru", 4, seed=11, dtype=torch.float64)
    assert not torch.equal(same_width.key.w_ih, same_width.value.w_ih)  # key and value cells differ
    single = rnn_weights("gru", 4, d_v=3, seed=11)
    assert torch.equal(single.key.w_hh, a.key.w_hh.float())  # float32 = the float64 draw, rounded
    snapshot = [x.clone() for x in (a.key.w_ih, a.key.w_hh, a.key.b_ih, a.key.b_hh)]
    mem = rnn_init(4, dtype=torch.float64, d_v=3)
    for _ in range(3):
        mem = rnn_gru_step(
            mem, torch.ones(4, dtype=torch.float64), torch.ones(3, dtype=torch.float64), seed=11
        )
    assert all(
        torch.equal(x, y)
        for x, y in zip(snapshot, (a.key.w_ih, a.key.w_hh, a.key.b_ih, a.key.b_hh), strict=True)
    )


@pytest.mark.parametrize("cell", ["elman", "gru"])
@settings(max_examples=20, deadline=None)
@given(n=sizes, scale=st.sampled_from([1.0, 1e3]))
def test_read_is_the_stored_value_for_every_query(cell: str, n: dict[str, int], scale: float) -> None:
    """A softmax over one slot weighs it 1: the query cannot select anything, y = v̄."""
    K, V = _data(n)
    last = {name: x[:, -1] for name, x in SCANS[cell](K, V, seed=3).items()}
    g = torch.Generator().manual_seed(n["seed"] + 1)
    for _ in range(3):
        q = torch.randn(n["B"], n["D"], generator=g, dtype=torch.float64) * scale
        assert torch.equal(rnn_read(last, q), last["v"])


def test_first_step_and_edge_weights() -> None:
    """Elman with W = I, U = 0, b = 0 forgets: k̄_i = tanh(k_i). A GRU with the update gate saturated at 1 copies h."""
    d = 3
    k, v = (
        torch.tensor([0.5, -2.0, 3.0], dtype=torch.float64),
        torch.tensor([1.0, 0.0, -1.0], dtype=torch.float64),
    )
    eye, zero, bias0 = (
        torch.eye(d, dtype=torch.float64),
        torch.zeros(d, d, dtype=torch.float64),
        torch.zeros(d),
    )
    memoryless = CellWeights(eye, zero, bias0.double(), bias0.double())
    mem = rnn_init(d, dtype=torch.float64)
    for _ in range(3):
        mem = rnn_elman_step(mem, k, v, weights=RNNWeights(memoryless, memoryless))
        assert torch.equal(mem["k"], torch.tanh(k)) and torch.equal(mem["v"], torch.tanh(v))
    # GRU: b_z = +100 makes z = 1 (to double precision), so h_i = h_{i-1}; from h_{-1} = 0 nothing is ever written
    b = torch.zeros(3 * d, dtype=torch.float64)
    b[d : 2 * d] = 100.0
    frozen = CellWeights(
        torch.ones(3 * d, d, dtype=torch.float64), torch.ones(3 * d, d, dtype=torch.float64), b, b
    )
    mem = rnn_init(d, dtype=torch.float64)
    for _ in range(3):
        mem = rnn_gru_step(mem, k, v, weights=RNNWeights(frozen, frozen))
        assert torch.equal(mem["k"], torch.zeros(d, dtype=torch.float64))
    # first step with the seeded weights: U h_{-1} = 0, so k̄_0 = tanh(W k_0 + b_W + b_U)
    w = rnn_weights("elman", d, seed=5, dtype=torch.float64).key
    first = rnn_elman_step(rnn_init(d, dtype=torch.float64), k, v, seed=5)
    assert torch.allclose(first["k"], torch.tanh(w.w_ih @ k + w.b_ih + w.b_hh), rtol=0, atol=1e-15)


@pytest.mark.parametrize("cell", ["elman", "gru"])
def test_batched_pairs_into_a_single_state(cell: str) -> None:
    """A state without batch dims takes a batch of pairs; each row is stepped on its own."""
    g = torch.Generator().manual_seed(0)
    mem = STEPS[cell](
        rnn_init(4, dtype=torch.float64), torch.randn(4, generator=g), torch.randn(4, generator=g)
    )
    k, v = (
        torch.randn(5, 4, generator=g, dtype=torch.float64),
        torch.randn(5, 4, generator=g, dtype=torch.float64),
    )
    out = STEPS[cell](mem, k, v)
    for i in range(5):
        row = STEPS[cell](mem, k[i], v[i])
        _assert_close(out["k"][i], row["k"])
        _assert_close(out["v"][i], row["v"])
