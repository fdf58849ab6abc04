"""Exponential moving average: the book's numbers, a plain loop, the geometric convolution, and the edge cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.cumulative_average import cumulative_average_parallel
from reference.ema import ema_attend_parallel, ema_init, ema_parallel, ema_read, ema_scan, ema_step

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)
alphas = st.one_of(st.sampled_from([0.0, 1.0, 0.5, 1e-3, 0.999]), st.floats(0.0, 1.0))


def _loop(xs: list[list[float]], alpha: float) -> list[list[float]]:
    """Mem_i = α x_i + (1 − α) Mem_{i−1}, Mem_{-1} = 0, one float at a time."""
    mem, out = [0.0] * len(xs[0]), []
    for x in xs:
        mem = [alpha * xc + (1 - alpha) * mc for xc, mc in zip(x, mem, strict=True)]
        out.append(mem)
    return out


def _close(actual: torch.Tensor, expected: object, rel: float = 1e-12) -> None:
    ref = expected if isinstance(expected, torch.Tensor) else torch.tensor(expected, dtype=torch.float64)
    assert actual.shape == ref.shape
    err = (actual - ref).abs().max().item()
    assert err <= rel * (1 + ref.abs().max().item()), err


def _seq(xs: list[float]) -> torch.Tensor:
    return torch.tensor(xs, dtype=torch.float64).reshape(1, 1, len(xs), 1)  # (1, 1, T, 1)


@pytest.mark.parametrize("chunk", [2, 3, 64])
def test_book_numbers(chunk: int) -> None:
    X = _seq([4.0, 8.0, 0.0])
    for out in (ema_scan(X, X, alpha=0.5)["v"], ema_parallel(X, X, alpha=0.5, chunk=chunk)["v"]):
        assert out.flatten().tolist() == [2.0, 5.0, 2.5]  # not 4, 6, 3 (the Mem_0 = x_0 convention)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 4).flatmap(
        lambda d: st.lists(st.lists(finite, min_size=d, max_size=d), min_size=1, max_size=60)
    ),
    alpha=alphas,
    chunk=st.integers(2, 7),
)
def test_equals_the_plain_loop(rows: list[list[float]], alpha: float, chunk: int) -> None:
    """Small chunks: T = 60 with chunk 2 goes three levels up the chunk hierarchy."""
    X = torch.tensor(rows, dtype=torch.float64)[None, None]  # (1, 1, T, d)
    expected = _loop(rows, alpha)
    _close(ema_scan(X, X, alpha=alpha)["k"][0, 0], expected)
    _close(ema_parallel(X, -X, alpha=alpha, chunk=chunk)["v"][0, 0], [[-x for x in r] for r in expected])
    _close(ema_attend_parallel(X, X, X, alpha=alpha, chunk=chunk)[0, 0], expected)


@pytest.mark.parametrize("T", [1, 7, 63, 64, 65, 129, 4097])
@pytest.mark.parametrize("alpha", [0.1, 0.5, 0.97])
def test_equals_the_geometric_convolution(T: int, alpha: float) -> None:
    """y = x * α(1 − α)^j, truncated to T (np.convolve), with T on both sides of the chunk sizes."""
    x = np.random.default_rng(T).normal(size=T) + 3.0
    y = np.convolve(x, alpha * (1 - alpha) ** np.arange(T))[:T]
    X = torch.from_numpy(x).reshape(1, 1, T, 1)
    for chunk in (8, 64):
        _close(ema_attend_parallel(X, X, X, alpha=alpha, chunk=chunk).flatten(), torch.from_numpy(y))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_alpha_edges_are_exact(dtype: torch.dtype) -> None:
    X = torch.randn(2, 3, 77, 4, dtype=dtype) * 100
    for out in (ema_scan(X, X, alpha=1.0)["v"], ema_parallel(X, X, alpha=1.0, chunk=5)["v"]):
        assert torch.equal(out, X)  # α = 1: only the newest pair, no memory
    for out in (ema_scan(X, X, alpha=0.0)["v"], ema_parallel(X, X, alpha=0.0, chunk=5)["v"]):
        assert torch.equal(out, torch.zeros_like(X))  # α = 0: the zero memory never moves


def test_early_tokens_fade_exponentially_unlike_the_cumulative_average() -> None:
    impulse = torch.zeros(1, 1, 60, 1, dtype=torch.float64)
    impulse[..., 0, :] = 1.0
    ema = ema_parallel(impulse, impulse, alpha=0.2, chunk=8)["v"].flatten()
    i = torch.arange(60, dtype=torch.float64)
    _close(ema, 0.2 * 0.8**i)  # the first pair's weight after i steps: α(1 − α)^i
    average = cumulative_average_parallel(impulse, impulse)["v"].flatten()
    _close(average, 1 / (i + 1))  # only 1/(i + 1) there
    assert ema[-1] < 1e-5 < average[-1]


def test_float32_long_stream_stays_close_to_float64() -> None:
    X = torch.randn(1, 2, 20_000, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64) + 100.0
    exact = ema_attend_parallel(X, X, X, alpha=0.01)
    for chunk in (16, 64):
        single = ema_attend_parallel(X.float(), X.float(), X.float(), alpha=0.01, chunk=chunk)
        assert single.dtype == torch.float32
        _close(single.double(), exact, rel=1e-5)


def test_step_and_read() -> None:
    mem = ema_init(2, batch=(3,), alpha=0.25)
    k, v = torch.tensor([4.0, -8.0]), torch.tensor([[1.0, 2.0]] * 3)
    mem = ema_step(mem, k, v, alpha=0.25)
    assert mem["k"].shape == (3, 2) and mem["k"][0].tolist() == [1.0, -2.0]
    # read: the softmax over one slot is 1, so every query gets v̄
    for q in (torch.zeros(3, 2), 50 * torch.randn(3, 2)):
        assert torch.equal(ema_read(mem, q, alpha=0.25), mem["v"])


def test_chunk_must_shrink() -> None:
    X = torch.randn(1, 5, 2)
    with pytest.raises(ValueError, match="chunk"):
        ema_parallel(X, X, chunk=1)
