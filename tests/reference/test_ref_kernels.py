"""The shared kernels against the obvious O(T^2) computations they replace."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import kernels
from reference.kernels import (
    block_positions,
    blocked_attention,
    chunked_linear_attention,
    decayed_sums,
    key_blocks,
    prefix_sum,
    query_blocks,
)


def _randn(seed: int, *shape: int) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _assert_close(actual: torch.Tensor, expected: torch.Tensor, rel: float = 1e-10) -> None:
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    if expected.numel() == 0:
        return
    err = (actual - expected).abs().max().item()
    assert err <= rel * (1 + expected.abs().max().item()), err


def _full_attention(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """softmax over the T × T scores with the mask, the obvious way."""
    scores = (Q @ K.transpose(-1, -2)) / Q.shape[-1] ** 0.5
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1) @ V


cases = st.fixed_dictionaries(
    {
        "T": st.integers(1, 70),
        "D": st.integers(1, 6),
        "block": st.integers(1, 16),
        "width": st.integers(1, 20),
        "seed": st.integers(0, 2**31),
    }
)


@settings(max_examples=60, deadline=None)
@given(c=cases)
def test_blocked_window_attention_equals_the_masked_full_matrix(c: dict[str, int]) -> None:
    T, D, w = c["T"], c["D"], c["width"]
    Q, K, V = (_randn(c["seed"] + i, 2, T, D) for i in range(3))
    i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
    expected = _full_attention(Q, K, V, (j <= i) & (j > i - w))
    actual = blocked_attention(
        Q, K, V, block=c["block"], lookback=w - 1, visible=lambda q, k: (k <= q) & (k > q - w)
    )
    _assert_close(actual, expected)


@settings(max_examples=40, deadline=None)
@given(c=cases)
def test_blocked_segment_attention_equals_the_masked_full_matrix(c: dict[str, int]) -> None:
    T, D, L = c["T"], c["D"], c["width"]
    Q, K, V = (_randn(c["seed"] + i, 1, T, D) for i in range(3))
    i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
    expected = _full_attention(Q, K, V, (j <= i) & (j // L >= i // L - 1))
    actual = blocked_attention(
        Q, K, V, block=L, lookback=L, visible=lambda q, k: (k <= q) & (k // L >= q // L - 1)
    )
    _assert_close(actual, expected)


def test_extra_keys_join_the_same_softmax() -> None:
    T, D, E = 23, 4, 3
    Q, K, V = (_randn(i, 2, T, D) for i in range(3))
    extra_k, extra_v = _randn(5, E, D), _randn(6, E, D)
    i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
    # reference: the E extra keys are visible to every query, beside a window of 5
    keys, values = (
        torch.cat([extra_k.expand(2, E, D), K], dim=-2),
        torch.cat([extra_v.expand(2, E, D), V], dim=-2),
    )
    mask = torch.cat([torch.ones(T, E, dtype=torch.bool), (j <= i) & (j > i - 5)], dim=-1)
    expected = _full_attention(Q, keys, values, mask)
    block = 4
    qb = query_blocks(Q, block=block)  # (2, nb, block, D)
    extra_scores = (qb @ extra_k.T) / D**0.5  # (2, nb, block, E)
    extra_values = extra_v.expand(2, qb.shape[1], E, D)
    actual = blocked_attention(
        Q,
        K,
        V,
        block=block,
        lookback=4,
        visible=lambda q, k: (k <= q) & (k > q - 5),
        extra_scores=extra_scores,
        extra_values=extra_values,
    )
    _assert_close(actual, expected)


def test_block_windows_hold_the_right_positions() -> None:
    X = torch.arange(10, dtype=torch.float64)[:, None] + 1  # row t holds t + 1, padding holds 0
    kb = key_blocks(X, block=4, lookback=3)  # (3, 7, 1)
    qpos, kpos = block_positions(10, block=4, lookback=3)
    assert kb.shape == (3, 7, 1) and qpos.shape == (3, 4, 1) and kpos.shape == (3, 1, 7)
    real = (kpos[:, 0] >= 0) & (kpos[:, 0] < 10)
    assert torch.equal(kb[..., 0], torch.where(real, kpos[:, 0] + 1.0, 0.0).double())
    assert torch.equal(query_blocks(X, block=4)[..., 0].flatten()[:10], X[:, 0])


@settings(max_examples=60, deadline=None)
@given(c=cases, normalize=st.booleans())
def test_chunked_linear_attention_equals_the_quadratic_form(c: dict[str, int], normalize: bool) -> None:
    T, D = c["T"], c["D"]
    phi_q, phi_k = (_randn(c["seed"] + i, 2, T, D).exp() for i in range(2))  # positive features
    V = _randn(c["seed"] + 2, 2, T, D + 1)
    A = (phi_q @ phi_k.transpose(-1, -2)).tril()  # (2, T, T)
    expected = A @ V
    if normalize:
        expected = expected / A.sum(dim=-1, keepdim=True)
    _assert_close(chunked_linear_attention(phi_q, phi_k, V, chunk=c["block"], normalize=normalize), expected)


@pytest.mark.parametrize("T", [0, 1])
def test_tiny_sequences(T: int) -> None:
    Q = _randn(0, 1, T, 3)
    assert blocked_attention(Q, Q, Q, block=4, lookback=2, visible=lambda q, k: k <= q).shape == (1, T, 3)
    assert chunked_linear_attention(Q.exp(), Q.exp(), Q, chunk=4).shape == (1, T, 3)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 300),
    dim=st.sampled_from([0, 1, -1]),
    chunk=st.integers(1, 70),
    exclusive=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_prefix_sum_equals_cumsum(n: int, dim: int, chunk: int, exclusive: bool, seed: int) -> None:
    shape = [2, 3, 4]
    shape[dim] = n
    X = _randn(seed, *shape) + 100.0
    expected = X.cumsum(dim=dim)
    if exclusive:
        expected = expected - X  # fine in float64 at these sizes: the test's own reference
    _assert_close(prefix_sum(X, dim=dim, chunk=max(chunk, 2), exclusive=exclusive), expected, rel=1e-12)


def test_prefix_sum_float32_long_stream_with_offset() -> None:
    X = _randn(0, 100_000, 3) + 1000.0
    exact = X.cumsum(dim=0)
    err = (prefix_sum(X.float(), dim=0).double() - exact).abs().max().item()
    assert err <= 1e-6 * exact.abs().max().item(), err


def _decayed_loop(X: torch.Tensor, a: float, scale: float, row_scale: torch.Tensor | None) -> torch.Tensor:
    """h_i = a h_{i-1} + scale x_i, one row at a time (times s_i when given): the definition."""
    h, rows = torch.zeros_like(X[..., 0, :]), []
    for i in range(X.shape[-2]):
        h = a * h + scale * X[..., i, :]
        rows.append(h if row_scale is None else row_scale[i] * h)
    return torch.stack(rows, dim=-2)


@settings(max_examples=80, deadline=None)
@given(
    T=st.integers(1, 400),
    chunk=st.integers(2, 20),
    a=st.sampled_from([1.0, 0.9, 0.5, 0.0]),
    scale=st.sampled_from([1.0, 0.25]),
    mean=st.booleans(),
    overwrite=st.booleans(),
    levels=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_decayed_sums_follow_the_recurrence(
    T: int, chunk: int, a: float, scale: float, mean: bool, overwrite: bool, levels: bool, seed: int
) -> None:
    """Every path of the chunked scan: decay or none, row scales (a running mean), the input overwritten or not,
    chunk totals by torch.cumsum or by further levels of the scan (``levels`` sets CUMSUM_MAX to 0)."""
    X = _randn(seed, 2, T, 3) + 10.0
    s = torch.arange(1, T + 1, dtype=X.dtype).reciprocal() if mean else None
    expected = _decayed_loop(X, a, scale, s)
    original = X.clone()
    cap = kernels.CUMSUM_MAX
    kernels.CUMSUM_MAX = 0 if levels else cap
    try:
        got = decayed_sums(X, a, scale, chunk, s, overwrite=overwrite)
    finally:
        kernels.CUMSUM_MAX = cap
    _assert_close(got, expected, rel=1e-12)
    if not overwrite:
        assert torch.equal(X, original), "the input was changed without overwrite"
