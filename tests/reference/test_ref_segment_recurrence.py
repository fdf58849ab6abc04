"""Segment-level recurrence: the FIFO of segments, the visible set at segment boundaries, and read-outs vs naive."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.registry import attend_scan, get_model
from reference.segment_recurrence import (
    fifo_update,
    segment_recurrence_attend_parallel,
    segment_recurrence_init,
    segment_recurrence_scan,
    segment_recurrence_step,
)
from tests.support.tensors import assert_close as _assert_close
from tests.support.tensors import randn_seq as _seq

SPEC = get_model("segment-recurrence")

cases = st.fixed_dictionaries(
    {
        "T": st.integers(1, 40),
        "D": st.integers(1, 5),
        "L": st.integers(1, 7),
        "m": st.integers(1, 4),
        "seed": st.integers(0, 2**32 - 1),
    }
)


def _visible(i: int, L: int, m: int) -> list[int]:
    """Transformer-XL's [mem; current] with the causal mask: the m whole segments before i's, then i's up to i."""
    first = max(0, (i // L - m) * L)
    return list(range(first, i + 1))


def _naive_readouts(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, L: int, m: int) -> torch.Tensor:
    """y_i = softmax over j in visible(i) of q_i · k_j / √d, with Python lists and math.exp."""
    T, D = K.shape
    Y = torch.zeros(T, V.shape[-1], dtype=torch.float64)
    for i in range(T):
        js = _visible(i, L, m)
        scores = [sum(float(Q[i, c]) * float(K[j, c]) for c in range(D)) / math.sqrt(D) for j in js]
        top = max(scores)
        weights = [math.exp(s - top) for s in scores]
        for j, w in zip(js, weights, strict=True):
            Y[i] += w / sum(weights) * V[j]
    return Y


def test_fifo_book_example() -> None:
    """FIFO capacity 3: [A, B, C] + D -> [B, C, D] (A is the oldest)."""
    L, d = 2, 3
    A, B, C, D = (torch.full((L, d), float(x)) for x in (1, 2, 3, 4))
    mem_k = torch.stack([A, B, C])  # (3, L, d)
    before = mem_k.clone()
    new_k, new_v = fifo_update(mem_k, -mem_k, D, -D)
    assert torch.equal(new_k, torch.stack([B, C, D])) and torch.equal(new_v, -torch.stack([B, C, D]))
    assert torch.equal(mem_k, before), "fifo_update must not mutate its input"


@settings(max_examples=30, deadline=None)
@given(case=cases)
def test_readouts_equal_the_naive_visible_set(case: dict[str, int]) -> None:
    """Both the step loop and the blocked form read exactly visible(i), for T not a multiple of L too."""
    T, D, L, m = case["T"], case["D"], case["L"], case["m"]
    Q, K, V = _seq(case["seed"], T, D)
    naive = _naive_readouts(Q, K, V, L, m)
    _assert_close(attend_scan(SPEC, Q, K, V, L=L, m=m), naive)
    _assert_close(segment_recurrence_attend_parallel(Q, K, V, L=L, m=m), naive)
    _assert_close(segment_recurrence_attend_parallel(Q, K, V, L=L, m=m, block=3 * L), naive)


@settings(max_examples=30, deadline=None)
@given(case=cases)
def test_visible_set_by_uniform_weights(case: dict[str, int]) -> None:
    """With q = 0 every visible key weighs 1/|visible|; one-hot values make the weights the read-out itself."""
    T, L, m = case["T"], case["L"], case["m"]
    Q, K, V = (
        torch.zeros(T, 2, dtype=torch.float64),
        _seq(case["seed"], T, 2)[1],
        torch.eye(T, dtype=torch.float64),
    )
    for Y in (attend_scan(SPEC, Q, K, V, L=L, m=m), segment_recurrence_attend_parallel(Q, K, V, L=L, m=m)):
        for i in range(T):
            js = _visible(i, L, m)
            expected = torch.zeros(T, dtype=torch.float64)
            expected[js] = 1.0 / len(js)
            _assert_close(Y[i], expected, rel=1e-12)


@pytest.mark.parametrize(("L", "m"), [(3, 1), (2, 2), (4, 3)])
def test_segment_boundaries_and_first_segment(L: int, m: int) -> None:
    """First token of segment s sees the m previous segments and itself; the first segment has an empty memory."""
    T, d = 5 * L + 1, 2
    K = torch.arange(T, dtype=torch.float64)[:, None].expand(T, d)  # key row j holds the number j
    mem = segment_recurrence_init(d, dtype=torch.float64, L=L, m=m)
    for i in range(T):
        mem = segment_recurrence_step(mem, K[i], -K[i], L=L, m=m)
        s = i // L
        assert mem["pos"].item() == i % L + 1 and mem["mem_n"].item() == min(s, m)
        # memory slots oldest first, right-aligned: slot r holds segment s - m + r, zero before the stream
        for r in range(m):
            seg = s - m + r
            expected = torch.arange(seg * L, seg * L + L, dtype=torch.float64) if seg >= 0 else torch.zeros(L)
            assert mem["mem_k"][r, :, 0].tolist() == expected.tolist(), (i, r)
        # the current segment: positions s·L .. i, then zeros
        assert mem["cur_k"][:, 0].tolist() == [float(s * L + r) if r <= i % L else 0.0 for r in range(L)]
        if i < L:
            assert torch.equal(mem["mem_k"], torch.zeros_like(mem["mem_k"]))  # first segment: empty memory
        # the rows the counters mark valid hold exactly the positions the read can see
        n, p = int(mem["mem_n"].item()), int(mem["pos"].item())
        seen = mem["mem_k"][m - n :, :, 0].flatten().tolist() + mem["cur_k"][:p, 0].tolist()
        assert seen == [float(j) for j in _visible(i, L, m)]
        if i % L == 0:  # the first token of a segment: the m previous segments and itself
            assert seen == [float(j) for j in range(max(0, i - m * L), i + 1)]


@settings(max_examples=20, deadline=None)
@given(case=cases)
def test_last_segment_shorter_than_L(case: dict[str, int]) -> None:
    T, L, m = case["T"], case["L"], case["m"]
    K, V, _ = _seq(case["seed"], T, 3)
    last = {name: x[-1] for name, x in segment_recurrence_scan(K, V, L=L, m=m).items()}
    s, filled = (T - 1) // L, (T - 1) % L + 1
    assert last["pos"].item() == filled and last["mem_n"].item() == min(s, m)
    assert torch.equal(last["cur_k"][:filled], K[s * L : T])
    assert torch.equal(last["cur_k"][filled:], torch.zeros(L - filled, 3, dtype=torch.float64))


def test_batch_elements_at_different_fill_levels() -> None:
    """torch.where, not Python branching: one batch element crosses a segment boundary while the other does not."""
    L, m, d = 2, 1, 3
    g = torch.Generator().manual_seed(0)
    K = torch.randn(5, d, generator=g, dtype=torch.float64)
    a = segment_recurrence_init(d, dtype=torch.float64, L=L, m=m)
    b = segment_recurrence_init(d, dtype=torch.float64, L=L, m=m)
    for t in range(2):
        a = segment_recurrence_step(a, K[t], K[t], L=L, m=m)  # a is full (pos = L)
    b = segment_recurrence_step(b, K[0], K[0], L=L, m=m)  # b is half full
    both = {name: torch.stack([a[name], b[name]]) for name in a}
    out = segment_recurrence_step(both, K[2:4], K[2:4], L=L, m=m)
    for row, single in enumerate(
        (segment_recurrence_step(a, K[2], K[2], L=L, m=m), segment_recurrence_step(b, K[3], K[3], L=L, m=m))
    ):
        for name, x in single.items():
            assert torch.equal(out[name][row], x), name


def test_block_must_hold_whole_segments() -> None:
    Q = torch.zeros(1, 6, 2)
    with pytest.raises(ValueError, match="multiple"):
        segment_recurrence_attend_parallel(Q, Q, Q, L=4, m=1, block=6)
