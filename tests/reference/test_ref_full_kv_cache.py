"""Full KV cache: the cache is the history in order, and the read is softmax attention, against plain Python."""

from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.full_kv_cache import (
    full_kv_cache_attend_parallel,
    full_kv_cache_init,
    full_kv_cache_read,
    full_kv_cache_scan,
    full_kv_cache_step,
)
from tests.support.tensors import assert_close as _assert_close

sizes = st.fixed_dictionaries(
    {
        "B": st.integers(1, 2),
        "T": st.integers(1, 30),
        "D": st.integers(1, 6),
        "D_v": st.integers(1, 6),
        "seed": st.integers(0, 2**32 - 1),
    }
)


def _qkv(n: dict[str, int], offset: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(n["seed"])
    Q = torch.randn(n["B"], n["T"], n["D"], generator=g, dtype=torch.float64)
    K = torch.randn(n["B"], n["T"], n["D"], generator=g, dtype=torch.float64) + offset
    V = torch.randn(n["B"], n["T"], n["D_v"], generator=g, dtype=torch.float64) - offset
    return Q, K, V


def _softmax_read(q: list[float], keys: list[list[float]], values: list[list[float]]) -> list[float]:
    """softmax(q·k_j/√d) weighted sum of v_j, one float at a time (max-shifted exp)."""
    scores = [sum(a * b for a, b in zip(q, k, strict=True)) / math.sqrt(len(q)) for k in keys]
    top = max(scores)
    weights = [math.exp(s - top) for s in scores]
    total = sum(weights)
    return [
        sum(w * v[c] for w, v in zip(weights, values, strict=True)) / total for c in range(len(values[0]))
    ]


@settings(max_examples=40, deadline=None)
@given(n=sizes)
def test_cache_after_step_t_is_the_history_in_order(n: dict[str, int]) -> None:
    _, K, V = _qkv(n)
    mem = full_kv_cache_init(n["D"], batch=(n["B"],), dtype=torch.float64, d_v=n["D_v"])
    for t in range(n["T"]):
        mem = full_kv_cache_step(mem, K[:, t], V[:, t])
        # exactly k_0..k_t, oldest first, bit for bit (an append only copies)
        assert torch.equal(mem["k"], K[:, : t + 1]) and torch.equal(mem["v"], V[:, : t + 1])
    final = full_kv_cache_scan(K, V)
    assert torch.equal(final["k"], K) and torch.equal(final["v"], V)


@settings(max_examples=30, deadline=None)
@given(n=sizes, offset=st.sampled_from([0.0, 1.0, 30.0]))
def test_read_and_parallel_equal_a_naive_softmax_loop(n: dict[str, int], offset: float) -> None:
    n = {**n, "T": min(n["T"], 12)}  # the plain-Python spec is O(T² d) scalar work
    Q, K, V = _qkv(n, offset)
    expected = torch.tensor(
        [
            [
                _softmax_read(Q[b, i].tolist(), K[b, : i + 1].tolist(), V[b, : i + 1].tolist())
                for i in range(n["T"])
            ]
            for b in range(n["B"])
        ],
        dtype=torch.float64,
    )  # (B, T, D_v)
    mem = full_kv_cache_init(n["D"], batch=(n["B"],), dtype=torch.float64, d_v=n["D_v"])
    stepped = []
    for t in range(n["T"]):
        mem = full_kv_cache_step(mem, K[:, t], V[:, t])
        stepped.append(full_kv_cache_read(mem, Q[:, t]))
    _assert_close(torch.stack(stepped, dim=1), expected)
    _assert_close(full_kv_cache_attend_parallel(Q, K, V), expected)


def test_the_cache_grows_by_one_row_per_token() -> None:
    mem = full_kv_cache_init(3, batch=(2,))
    assert mem["k"].shape == (2, 0, 3) and mem["v"].shape == (2, 0, 3)
    for t in range(10):
        mem = full_kv_cache_step(mem, torch.randn(2, 3), torch.randn(2, 3))
        assert mem["k"].shape == mem["v"].shape == (2, t + 1, 3)


def test_first_read_is_the_first_value() -> None:
    pair = torch.tensor([5.0, -1.0]), torch.tensor([2.0, 3.0, 4.0])
    mem = full_kv_cache_step(full_kv_cache_init(2, d_v=3), *pair)
    assert full_kv_cache_read(mem, torch.tensor([100.0, 7.0])).tolist() == [2.0, 3.0, 4.0]


def test_a_sharp_query_picks_its_key() -> None:
    keys = torch.eye(4, dtype=torch.float64) * 50.0  # four orthogonal, far-apart keys
    values = torch.arange(8, dtype=torch.float64).reshape(4, 2)
    mem = full_kv_cache_init(4, dtype=torch.float64, d_v=2)
    for k, v in zip(keys, values, strict=True):
        mem = full_kv_cache_step(mem, k, v)
    # a batch of 4 queries against one unbatched cache
    torch.testing.assert_close(full_kv_cache_read(mem, keys), values, rtol=0, atol=1e-12)


def test_attend_parallel_promotes_and_handles_empty() -> None:
    Q = torch.randn(1, 5, 3, dtype=torch.float64)
    K = V = torch.randn(1, 5, 3)
    assert full_kv_cache_attend_parallel(Q, K, V).dtype == torch.float64
    empty = torch.zeros(2, 0, 3)
    assert full_kv_cache_attend_parallel(empty, empty, empty).shape == (2, 0, 3)
