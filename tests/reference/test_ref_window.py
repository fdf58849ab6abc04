"""Window cache: a FIFO of the last n_c pairs (checked against collections.deque) and banded attention."""

from __future__ import annotations

import math
from collections import deque

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.kernels import band_attention, blocked_attention
from reference.window import (
    window_attend_naive,
    window_attend_parallel,
    window_init,
    window_parallel,
    window_read,
    window_scan,
    window_step,
)
from tests.support.tensors import assert_close as _assert_close

sizes = st.fixed_dictionaries(
    {
        "B": st.integers(1, 2),
        "T": st.integers(1, 40),
        "D": st.integers(1, 5),
        "D_v": st.integers(1, 5),
        "n_c": st.one_of(st.integers(1, 12), st.integers(30, 60)),  # the second range is often >= T
        "seed": st.integers(0, 2**32 - 1),
    }
)


def _qkv(n: dict[str, int], offset: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(n["seed"])
    Q = torch.randn(n["B"], n["T"], n["D"], generator=g, dtype=torch.float64)
    K = torch.randn(n["B"], n["T"], n["D"], generator=g, dtype=torch.float64) + offset
    V = torch.randn(n["B"], n["T"], n["D_v"], generator=g, dtype=torch.float64) - offset
    return Q, K, V


def _deque_windows(rows: list[list[float]], n_c: int) -> list[list[list[float]]]:
    """The spec: after each token, the contents of a deque(maxlen=n_c), oldest first."""
    window: deque[list[float]] = deque(maxlen=n_c)
    out = []
    for row in rows:
        window.append(row)
        out.append(list(window))
    return out


def _softmax_read(q: list[float], keys: list[list[float]], values: list[list[float]]) -> list[float]:
    scores = [sum(a * b for a, b in zip(q, k, strict=True)) / math.sqrt(len(q)) for k in keys]
    top = max(scores)
    weights = [math.exp(s - top) for s in scores]
    return [
        sum(w * v[c] for w, v in zip(weights, values, strict=True)) / sum(weights)
        for c in range(len(values[0]))
    ]


@settings(max_examples=40, deadline=None)
@given(n=sizes)
def test_window_holds_the_last_n_c_pairs_in_order(n: dict[str, int]) -> None:
    _, K, V = _qkv(n)
    n_c = n["n_c"]
    scanned, parallel = window_scan(K, V, n_c=n_c), window_parallel(K, V, n_c=n_c)
    for b in range(n["B"]):
        for name, X in (("k", K), ("v", V)):
            for t, expected in enumerate(_deque_windows(X[b].tolist(), n_c)):
                # right-aligned: the valid pairs are the last len(expected) rows, the front rows stay zero
                for state in (scanned, parallel):
                    rows = state[name][b, t]
                    assert rows[n_c - len(expected) :].tolist() == expected
                    assert torch.all(rows[: n_c - len(expected)] == 0)
        counts = [min(t + 1, n_c) for t in range(n["T"])]
        assert scanned["n"][b].tolist() == parallel["n"][b].tolist() == counts


@settings(max_examples=30, deadline=None)
@given(n=sizes, offset=st.sampled_from([0.0, 1.0, 30.0]))
def test_read_and_attend_equal_a_naive_banded_loop(n: dict[str, int], offset: float) -> None:
    n = {**n, "T": min(n["T"], 20)}
    Q, K, V = _qkv(n, offset)
    n_c = n["n_c"]
    expected = torch.tensor(
        [
            [
                _softmax_read(
                    Q[b, i].tolist(),
                    K[b, max(0, i - n_c + 1) : i + 1].tolist(),
                    V[b, max(0, i - n_c + 1) : i + 1].tolist(),
                )
                for i in range(n["T"])
            ]
            for b in range(n["B"])
        ],
        dtype=torch.float64,
    )  # (B, T, D_v)
    mem = window_init(n["D"], batch=(n["B"],), dtype=torch.float64, d_v=n["D_v"], n_c=n_c)
    stepped = []
    for t in range(n["T"]):
        mem = window_step(mem, K[:, t], V[:, t], n_c=n_c)
        stepped.append(window_read(mem, Q[:, t], n_c=n_c))
    _assert_close(torch.stack(stepped, dim=1), expected)
    _assert_close(window_attend_parallel(Q, K, V, n_c=n_c), expected)
    _assert_close(window_attend_naive(Q, K, V, n_c=n_c), expected)


@settings(max_examples=25, deadline=None)
@given(n=sizes, block=st.integers(1, 20))
def test_attend_parallel_does_not_depend_on_the_block(n: dict[str, int], block: int) -> None:
    Q, K, V = _qkv(n)
    _assert_close(
        window_attend_parallel(Q, K, V, n_c=n["n_c"], block=block), window_attend_naive(Q, K, V, n_c=n["n_c"])
    )


@settings(max_examples=25, deadline=None)
@given(n=sizes, block=st.integers(1, 20), start=st.integers(0, 6), E=st.integers(0, 4))
def test_band_attention_equals_dense_masked_softmax(
    n: dict[str, int], block: int, start: int, E: int
) -> None:
    """The fast kernel against the full T × (E + T) score matrix with its mask, extra keys and start included."""
    Q, K, V = _qkv(n, offset=1.0)
    T, width = n["T"], n["n_c"]
    g = torch.Generator().manual_seed(n["seed"] + 1)
    extra_k = torch.randn(n["B"], E, n["D"], generator=g, dtype=torch.float64)
    extra_v = torch.randn(n["B"], E, n["D_v"], generator=g, dtype=torch.float64)
    i, j, e = torch.arange(T)[:, None], torch.arange(T)[None, :], torch.arange(E)[None, :]
    mask = torch.cat([e <= i, (j <= i) & (j > i - width) & (j >= start)], dim=-1)  # (T, E + T)
    scores = torch.cat([Q @ extra_k.transpose(-1, -2), Q @ K.transpose(-1, -2)], dim=-1) * 0.3
    dense = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1) @ torch.cat([extra_v, V], dim=-2)
    fast = band_attention(
        Q, K, V, width=width, block=block, start=start, extra_k=extra_k, extra_v=extra_v, scale=0.3
    )
    # a query that sees no key (i < start with no extra key seen) has no read-out; all others must agree
    rows = mask.any(dim=-1)  # (T,)
    _assert_close(fast[:, rows], dense[:, rows])


@settings(max_examples=20, deadline=None)
@given(n=sizes, block=st.integers(1, 20))
def test_fast_path_equals_the_shared_blocked_kernel(n: dict[str, int], block: int) -> None:
    Q, K, V = _qkv(n)
    n_c = n["n_c"]

    def visible(qpos: torch.Tensor, kpos: torch.Tensor) -> torch.Tensor:
        return (kpos <= qpos) & (kpos > qpos - n_c)

    shared = blocked_attention(Q, K, V, block=block, lookback=n_c - 1, visible=visible)
    _assert_close(window_attend_parallel(Q, K, V, n_c=n_c, block=block), shared)


def test_oldest_is_evicted_not_newest() -> None:
    # keys are their own token index, so every slot says which token it holds
    mem = window_init(1, n_c=3)
    for i in range(5):
        mem = window_step(mem, torch.tensor([float(i)]), torch.tensor([float(i)]), n_c=3)
    assert mem["k"].flatten().tolist() == [
        2.0,
        3.0,
        4.0,
    ]  # evicting the newest would keep 0, 1, ... or lose 4
    assert mem["n"].item() == 3.0


def test_window_not_yet_full() -> None:
    mem = window_init(1, n_c=4)
    for i in range(2):
        mem = window_step(mem, torch.tensor([i + 1.0]), torch.tensor([10.0 * (i + 1)]), n_c=4)
    assert mem["k"].flatten().tolist() == [0.0, 0.0, 1.0, 2.0] and mem["n"].item() == 2.0
    # the zero front slots are masked: with equal scores the read is the mean of the 2 real values, not of 4 slots
    assert window_read(mem, torch.tensor([0.0]), n_c=4).item() == pytest.approx(15.0)


def test_window_of_one_returns_the_current_value() -> None:
    g = torch.Generator().manual_seed(3)
    Q, K, V = (torch.randn(2, 9, 3, generator=g, dtype=torch.float64) for _ in range(3))
    assert torch.equal(window_attend_parallel(Q, K, V, n_c=1), V)
    assert torch.equal(window_scan(K, V, n_c=1)["v"][:, :, 0], V)


def test_window_longer_than_the_sequence_is_full_attention() -> None:
    g = torch.Generator().manual_seed(4)
    Q, K, V = (torch.randn(1, 2, 17, 4, generator=g, dtype=torch.float64) for _ in range(3))
    full = torch.nn.functional.scaled_dot_product_attention(Q, K, V, is_causal=True)
    for n_c in (17, 18, 100):
        _assert_close(window_attend_parallel(Q, K, V, n_c=n_c), full)


def test_batch_elements_at_different_fill_levels() -> None:
    # element 0 has seen 1 pair, element 1 has seen 3: one step must treat each by its own n
    one = window_step(window_init(1, n_c=3), torch.tensor([5.0]), torch.tensor([5.0]), n_c=3)
    three = window_init(1, n_c=3)
    for i in range(3):
        three = window_step(three, torch.tensor([float(i)]), torch.tensor([float(i)]), n_c=3)
    mem = {name: torch.stack([one[name], three[name]]) for name in one}
    out = window_step(mem, torch.tensor([[7.0], [7.0]]), torch.tensor([[7.0], [7.0]]), n_c=3)
    assert out["n"].tolist() == [2.0, 3.0]
    assert out["k"][..., 0].tolist() == [[0.0, 5.0, 7.0], [1.0, 2.0, 7.0]]
    y = window_read(out, torch.zeros(2, 1), n_c=3)
    assert y.flatten().tolist() == pytest.approx([6.0, 10.0 / 3])


def test_mistral_rolling_buffer_holds_the_same_set() -> None:
    # W = 4, after token 9 a rolling buffer (slot i mod W) holds 8, 9, 6, 7; the FIFO holds 6, 7, 8, 9 in order
    mem = window_init(1, n_c=4)
    rolling = [0.0] * 4
    for i in range(10):
        mem = window_step(mem, torch.tensor([float(i)]), torch.tensor([float(i)]), n_c=4)
        rolling[i % 4] = float(i)
    assert rolling == [8.0, 9.0, 6.0, 7.0]
    assert mem["k"].flatten().tolist() == [6.0, 7.0, 8.0, 9.0] == sorted(rolling)


def test_wrong_n_c_for_the_state_is_an_error() -> None:
    with pytest.raises(ValueError, match="n_c"):
        window_step(window_init(2, n_c=4), torch.ones(2), torch.ones(2), n_c=5)
