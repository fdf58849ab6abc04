"""Summary vectors: chunk means vs a plain-list spec, chunk boundaries, T not divisible by c, a growing state."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.registry import attend_scan, get_model
from reference.summary_vectors import (
    summary_vectors_attend_parallel,
    summary_vectors_init,
    summary_vectors_parallel,
    summary_vectors_read,
    summary_vectors_scan,
    summary_vectors_step,
)
from tests.support.tensors import assert_close as _assert_close
from tests.support.tensors import randn_seq as _seq
from tests.support.tensors import softmax_read as _softmax_read

SPEC = get_model("summary-vectors")

cases = st.fixed_dictionaries(
    {
        "T": st.integers(1, 40),
        "D": st.integers(1, 4),
        "c": st.integers(1, 7),
        "seed": st.integers(0, 2**32 - 1),
    }
)

Pair = tuple[list[float], list[float]]


def _list_spec(K: torch.Tensor, V: torch.Tensor, c: int) -> list[tuple[list[Pair], list[Pair]]]:
    """(summaries, current chunk) after every token, on Python lists: a full chunk is averaged when the next starts."""
    summaries: list[Pair] = []
    chunk: list[Pair] = []
    out = []
    for k, v in zip(K.tolist(), V.tolist(), strict=True):
        if len(chunk) == c:
            mean_k = [sum(p[0][j] for p in chunk) / c for j in range(len(k))]
            mean_v = [sum(p[1][j] for p in chunk) / c for j in range(len(v))]
            summaries, chunk = [*summaries, (mean_k, mean_v)], []
        chunk = [*chunk, (k, v)]
        out.append((list(summaries), list(chunk)))
    return out


@settings(max_examples=30, deadline=None)
@given(case=cases)
def test_states_equal_the_list_spec(case: dict[str, int]) -> None:
    """Every state of the step loop, and the final state of scan and parallel, for T not a multiple of c too."""
    T, D, c = case["T"], case["D"], case["c"]
    K, V, _ = _seq(case["seed"], T, D)
    mem = summary_vectors_init(D, dtype=torch.float64, c=c)
    for i, (summaries, chunk) in enumerate(_list_spec(K, V, c)):
        mem = summary_vectors_step(mem, K[i], V[i], c=c)
        assert mem["sk"].shape == (len(summaries), D) and mem["pos"].item() == len(chunk)
        if summaries:
            _assert_close(mem["sk"], torch.tensor([k for k, _ in summaries], dtype=torch.float64))
            _assert_close(mem["sv"], torch.tensor([v for _, v in summaries], dtype=torch.float64))
        _assert_close(mem["cur_k"][: len(chunk)], torch.tensor([k for k, _ in chunk], dtype=torch.float64))
        assert torch.equal(mem["cur_k"][len(chunk) :], torch.zeros(c - len(chunk), D, dtype=torch.float64))
    for final in (summary_vectors_scan(K, V, c=c), summary_vectors_parallel(K, V, c=c)):
        assert final.keys() == mem.keys()
        for name, x in mem.items():
            _assert_close(final[name], x)


@settings(max_examples=30, deadline=None)
@given(case=cases, group=st.integers(1, 4))
def test_readouts_equal_the_list_spec(case: dict[str, int], group: int) -> None:
    T, D, c = case["T"], case["D"], case["c"]
    Q, K, V = _seq(case["seed"], T, D)
    expected = torch.tensor(
        [_softmax_read(q, s + ch) for q, (s, ch) in zip(Q.tolist(), _list_spec(K, V, c), strict=True)],
        dtype=torch.float64,
    )
    _assert_close(attend_scan(SPEC, Q, K, V, c=c), expected)
    _assert_close(summary_vectors_attend_parallel(Q, K, V, c=c), expected)
    _assert_close(summary_vectors_attend_parallel(Q, K, V, c=c, group=group), expected)


@pytest.mark.parametrize(("T", "c"), [(12, 4), (13, 4), (10, 3), (5, 1), (6, 9)])
def test_chunk_boundaries_by_uniform_weights(T: int, c: int) -> None:
    """q = 0 weighs every visible row alike; one-hot values show which positions each read-out mixes, and how."""
    Q, K, V = torch.zeros(T, 2, dtype=torch.float64), _seq(1, T, 2)[1], torch.eye(T, dtype=torch.float64)
    for Y in (attend_scan(SPEC, Q, K, V, c=c), summary_vectors_attend_parallel(Q, K, V, c=c, group=2)):
        for i in range(T):
            b, p = i // c, i % c + 1  # b summaries before i's chunk, p raw pairs of it up to i
            expected = torch.zeros(T, dtype=torch.float64)
            expected[: b * c] = 1.0 / ((b + p) * c)  # each summary spreads its weight over its c positions
            expected[b * c : i + 1] = 1.0 / (b + p)  # the current chunk is read raw, its last token included
            _assert_close(Y[i], expected, rel=1e-12)


def test_the_state_grows_by_one_summary_per_chunk() -> None:
    c, d = 3, 2
    mem = summary_vectors_init(d, batch=(2,), c=c)
    sizes = []
    for i in range(11):
        mem = summary_vectors_step(mem, torch.randn(2, d), torch.randn(2, d), c=c)
        sizes.append(mem["sk"].shape[-2])
        assert mem["cur_k"].shape == (2, c, d) and mem["pos"].tolist() == [i % c + 1] * 2
    assert sizes == [i // c for i in range(11)]  # summarised when the next chunk starts


def test_reading_the_empty_memory_is_zero() -> None:
    mem = summary_vectors_init(3, batch=(2,), d_v=4)
    assert torch.equal(summary_vectors_read(mem, torch.randn(2, 3)), torch.zeros(2, 4))


def test_batch_must_share_the_fill_level() -> None:
    a = summary_vectors_step(summary_vectors_init(2, c=2), torch.ones(2), torch.ones(2), c=2)
    a = summary_vectors_step(a, torch.ones(2), torch.ones(2), c=2)  # full chunk
    b = summary_vectors_step(summary_vectors_init(2, c=2), torch.ones(2), torch.ones(2), c=2)  # half full
    mixed = {name: torch.stack([a[name], b[name]]) for name in a}
    with pytest.raises(ValueError, match="same position"):
        summary_vectors_step(mixed, torch.ones(2, 2), torch.ones(2, 2), c=2)
