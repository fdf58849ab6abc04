"""Attention sinks (StreamingLLM): the cache contents and the in-cache RoPE positions, against plain Python."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.attention_sinks import (
    _rope,
    attention_sinks_attend_parallel,
    attention_sinks_init,
    attention_sinks_parallel,
    attention_sinks_read,
    attention_sinks_scan,
    attention_sinks_step,
)
from tests.support.tensors import assert_close as _assert_close

Row = list[float]


def _rope_py(x: Row, p: float) -> Row:
    """Rotate-half RoPE by hand: pair (x_k, x_{k+h}) turns by p·10000^(-2k/2h); an odd last entry stays."""
    h = len(x) // 2
    out = list(x)
    for c in range(h):
        angle = p * 10000.0 ** (-2.0 * c / (2 * h))
        out[c] = x[c] * math.cos(angle) - x[c + h] * math.sin(angle)
        out[c + h] = x[c + h] * math.cos(angle) + x[c] * math.sin(angle)
    return out


def _read_py(q: Row, keys: list[Row], values: list[Row], positions: list[int], q_pos: int) -> Row:
    qr = _rope_py(q, q_pos)
    scores = [
        sum(a * b for a, b in zip(qr, _rope_py(k, p), strict=True)) / math.sqrt(len(q))
        for k, p in zip(keys, positions, strict=True)
    ]
    top = max(scores)
    w = [math.exp(s - top) for s in scores]
    return [sum(wj * v[c] for wj, v in zip(w, values, strict=True)) / sum(w) for c in range(len(values[0]))]


def _streaming_py(
    Q: list[Row], K: list[Row], V: list[Row], n_sink: int, n_recent: int, *, original_positions: bool = False
) -> tuple[list[list[int]], list[Row]]:
    """StartRecentKVCache by hand: append, then keep cache[:S] + cache[-W:] once it is longer than S + W.

    Returns the text positions cached after each token and the read-outs, with positions 0..len-1 inside the
    cache (the paper) or, with ``original_positions``, the text positions (the classic bug).
    """
    cache: list[int] = []
    held, ys = [], []
    for i in range(len(K)):
        cache.append(i)
        if len(cache) > n_sink + n_recent:
            cache = cache[:n_sink] + cache[-n_recent:]
        held.append(list(cache))
        pos = cache if original_positions else list(range(len(cache)))
        ys.append(_read_py(Q[i], [K[j] for j in cache], [V[j] for j in cache], pos, pos[-1]))
    return held, ys


def _qkv(seed: int, T: int, D: int, D_v: int, B: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    Q = torch.randn(B, T, D, generator=g, dtype=torch.float64)
    K = torch.randn(B, T, D, generator=g, dtype=torch.float64)
    V = torch.randn(B, T, D_v, generator=g, dtype=torch.float64)
    return Q, K, V


def _step_read(
    Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, **hp: int
) -> tuple[list[dict[str, torch.Tensor]], torch.Tensor]:
    mem = attention_sinks_init(K.shape[-1], batch=K.shape[:-2], dtype=K.dtype, d_v=V.shape[-1], **hp)
    states, ys = [], []
    for t in range(K.shape[-2]):
        mem = attention_sinks_step(mem, K[..., t, :], V[..., t, :], **hp)
        states.append(mem)
        ys.append(attention_sinks_read(mem, Q[..., t, :], **hp))
    return states, torch.stack(ys, dim=-2)


@settings(max_examples=30, deadline=None)
@given(
    T=st.integers(1, 80),
    D=st.integers(1, 6),
    D_v=st.integers(1, 4),
    n_sink=st.integers(1, 12),
    n_recent=st.integers(1, 12),
    seed=st.integers(0, 2**32 - 1),
)
def test_step_read_and_parallel_equal_a_plain_streaming_cache(
    T: int, D: int, D_v: int, n_sink: int, n_recent: int, seed: int
) -> None:
    Q, K, V = _qkv(seed, T, D, D_v)
    hp = {"n_sink": n_sink, "n_recent": n_recent}
    held, ys = _streaming_py(Q[0].tolist(), K[0].tolist(), V[0].tolist(), n_sink, n_recent)
    expected = torch.tensor(ys, dtype=torch.float64)[None]  # (1, T, D_v)
    states, stepped = _step_read(Q, K, V, **hp)
    _assert_close(stepped, expected)
    _assert_close(attention_sinks_attend_parallel(Q, K, V, **hp), expected)
    _assert_close(attention_sinks_attend_parallel(Q, K, V, **hp, block=1 + seed % 9), expected)
    # the state holds exactly the cached pairs: sinks in slots 0.., recent right-aligned, zeros elsewhere
    scanned, parallel = attention_sinks_scan(K, V, **hp), attention_sinks_parallel(K, V, **hp)
    for t, cache in enumerate(held):
        sinks, recent = [j for j in cache if j < n_sink], [j for j in cache if j >= n_sink]
        for mem in (
            states[t],
            {name: x[:, t] for name, x in scanned.items()},
            {name: x[:, t] for name, x in parallel.items()},
        ):
            assert mem["n"].tolist() == [float(len(cache))]
            assert torch.equal(mem["sink_v"][0, : len(sinks)], V[0, sinks])
            assert torch.equal(mem["v"][0, n_recent - len(recent) :], V[0, recent])
            assert torch.equal(mem["k"][0, n_recent - len(recent) :], K[0, recent])
            assert (
                not mem["sink_k"][0, len(sinks) :].any() and not mem["k"][0, : n_recent - len(recent)].any()
            )


def test_book_example_positions() -> None:
    # S = 4, W = 3: after token 8 the cache holds text positions [0, 1, 2, 3, 6, 7, 8] and uses positions 0..6
    S, W = 4, 3
    Q, K, _ = _qkv(0, 9, 4, 1)
    V = torch.arange(9, dtype=torch.float64).reshape(1, 9, 1)  # each value is its token's text position
    states, ys = _step_read(Q, K, V, n_sink=S, n_recent=W)
    last = states[-1]
    assert last["sink_v"].flatten().tolist() == [0.0, 1.0, 2.0, 3.0]
    assert last["v"].flatten().tolist() == [6.0, 7.0, 8.0]
    assert last["n"].item() == 7.0
    kept = [0, 1, 2, 3, 6, 7, 8]
    in_cache = _read_py(Q[0, 8].tolist(), K[0, kept].tolist(), V[0, kept].tolist(), list(range(7)), 6)
    assert ys[0, 8].tolist() == pytest.approx(in_cache, rel=1e-12)


def test_original_positions_would_give_other_readouts() -> None:
    # the classic bug rotates by text positions; after eviction its read-outs differ from the paper's
    S, W, T = 2, 3, 40
    Q, K, V = _qkv(1, T, 8, 2)
    _, right = _streaming_py(Q[0].tolist(), K[0].tolist(), V[0].tolist(), S, W)
    _, wrong = _streaming_py(Q[0].tolist(), K[0].tolist(), V[0].tolist(), S, W, original_positions=True)
    ours = attention_sinks_attend_parallel(Q, K, V, n_sink=S, n_recent=W)[0]
    _assert_close(ours, torch.tensor(right, dtype=torch.float64))
    gap = (ours - torch.tensor(wrong, dtype=torch.float64)).abs()
    assert gap[: S + W].max().item() < 1e-12  # the same while nothing has been evicted
    assert gap[S + W :].max().item() > 1e-2


def test_no_eviction_before_the_cache_is_full() -> None:
    S, W = 3, 4
    V = torch.arange(1.0, 8.0, dtype=torch.float64).reshape(7, 1)  # token i has value i + 1
    mem = attention_sinks_init(2, dtype=torch.float64, d_v=1, n_sink=S, n_recent=W)
    for i in range(S + W):
        mem = attention_sinks_step(mem, torch.ones(2, dtype=torch.float64), V[i], n_sink=S, n_recent=W)
        cached = sorted(x for x in mem["sink_v"].flatten().tolist() + mem["v"].flatten().tolist() if x != 0)
        assert cached == [float(j + 1) for j in range(i + 1)] and mem["n"].item() == i + 1


def test_sinks_are_the_first_tokens_of_the_stream() -> None:
    S, W = 4, 5
    V = torch.arange(100, dtype=torch.float64).reshape(1, 100, 1)
    last = {
        name: x[0, -1]
        for name, x in attention_sinks_scan(torch.ones(1, 100, 2), V, n_sink=S, n_recent=W).items()
    }
    assert last["sink_v"].flatten().tolist() == [
        0.0,
        1.0,
        2.0,
        3.0,
    ]  # not the last S, not the first of a chunk
    assert last["v"].flatten().tolist() == [95.0, 96.0, 97.0, 98.0, 99.0]  # exactly W recent, not W + 1
    assert last["n"].item() == S + W


def test_batch_elements_at_different_fill_levels() -> None:
    # element 0 starts fresh while element 1 has already seen 3 tokens: one batched step must handle both
    hp = {"n_sink": 2, "n_recent": 2}
    Q, K, V = _qkv(2, 6, 4, 3, B=2)
    _, expected = _step_read(Q, K, V, **hp)  # (2, 6, 3): each element from its own token 0
    ahead = attention_sinks_init(4, dtype=torch.float64, d_v=3, **hp)
    for t in range(3):
        ahead = attention_sinks_step(ahead, K[1, t], V[1, t], **hp)
    fresh = attention_sinks_init(4, dtype=torch.float64, d_v=3, **hp)
    mem = {name: torch.stack([fresh[name], ahead[name]]) for name in fresh}
    for t in range(3):
        mem = attention_sinks_step(
            mem, torch.stack([K[0, t], K[1, t + 3]]), torch.stack([V[0, t], V[1, t + 3]]), **hp
        )
        y = attention_sinks_read(mem, torch.stack([Q[0, t], Q[1, t + 3]]), **hp)
        _assert_close(y, torch.stack([expected[0, t], expected[1, t + 3]]))


def test_rope_is_relative_and_accurate_at_large_positions() -> None:
    g = torch.Generator().manual_seed(5)
    q, k = torch.randn(7, generator=g, dtype=torch.float64), torch.randn(7, generator=g, dtype=torch.float64)
    pos = torch.tensor
    # the score depends only on the distance, and the odd last dim is left alone
    assert (_rope(q, pos(10.0)) @ _rope(k, pos(3.0))).item() == pytest.approx(
        (_rope(q, pos(1007.0)) @ _rope(k, pos(1000.0))).item(), rel=1e-10
    )
    assert _rope(q, pos(123.0))[-1].item() == q[-1].item()
    assert _rope(q, pos(5.0)).tolist() == pytest.approx(_rope_py(q.tolist(), 5.0), rel=1e-12)
    # float32 at position 10^6: the angles are computed in float64, so only the final rounding is lost
    far = _rope(q.float(), pos(1e6))
    assert (far.double() - _rope(q, pos(1e6))).abs().max().item() < 1e-5
