"""Hybrid cache: the book's FIFO numbers, compression on eviction over time, and the closed form vs a list spec."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.hybrid_cache import (
    compress_and_push,
    hybrid_cache_attend_parallel,
    hybrid_cache_init,
    hybrid_cache_scan,
    hybrid_cache_step,
)
from reference.registry import attend_scan, get_model
from tests.support.tensors import assert_close as _assert_close
from tests.support.tensors import randn_seq as _seq
from tests.support.tensors import softmax_read as _softmax_read

SPEC = get_model("hybrid-cache")


@st.composite
def cases(draw: st.DrawFn) -> dict[str, int]:
    c = draw(st.integers(1, 4))
    return {
        "T": draw(st.integers(1, 40)),
        "D": draw(st.integers(1, 4)),
        "c": c,
        "n_m": draw(st.integers(c, 8)),
        "n_cm": draw(st.integers(1, 4)),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


Pair = tuple[list[float], list[float]]


def _list_spec(
    K: torch.Tensor, V: torch.Tensor, n_m: int, c: int, n_cm: int
) -> list[tuple[list[Pair], list[Pair]]]:
    """The book's process on Python lists: (CMem, Mem) after every token; evict → compress → push → drop → append."""
    local: list[Pair] = []
    cmem: list[Pair] = []
    out = []
    for k, v in zip(K.tolist(), V.tolist(), strict=True):
        if len(local) == n_m:
            evicted, local = local[:c], local[c:]
            mean_k = [sum(e[0][j] for e in evicted) / c for j in range(len(k))]
            mean_v = [sum(e[1][j] for e in evicted) / c for j in range(len(v))]
            cmem = ([*cmem, (mean_k, mean_v)])[-n_cm:]
        local = [*local, (k, v)]
        out.append((list(cmem), list(local)))
    return out


def _groups_evicted(i: int, n_m: int, c: int) -> int:
    return (i - n_m) // c + 1 if i >= n_m else 0


def test_book_cmem_fifo() -> None:
    """CMem capacity 4 = [C1, C2, C3, C4] (C1 oldest) plus [C5, C6] gives [C3, C4, C5, C6]."""
    C = [torch.full((2,), float(x)) for x in range(1, 7)]
    ck = torch.stack(C[:4])  # (4, 2)
    before = ck.clone()
    new_k, new_v = compress_and_push(ck, -ck, torch.stack(C[4:]), -torch.stack(C[4:]), c=1)
    assert new_k.tolist() == torch.stack(C[2:]).tolist() and new_v.tolist() == (-torch.stack(C[2:])).tolist()
    assert torch.equal(ck, before), "compress_and_push must not mutate its input"


def test_book_four_evicted_pairs_at_rate_two_become_two() -> None:
    """n_s = 4 evicted, c = 2: two compressed pairs, the means of (E1, E2) and (E3, E4), appended at the tail."""
    ck = torch.tensor([[10.0], [20.0], [30.0], [40.0]])
    E = torch.tensor([[1.0], [3.0], [5.0], [9.0]])
    new_k, _ = compress_and_push(ck, ck, E, E, c=2)
    assert new_k.flatten().tolist() == [30.0, 40.0, 2.0, 7.0]
    with pytest.raises(ValueError, match="groups"):
        compress_and_push(ck, ck, E[:3], E[:3], c=2)


def test_pooling_is_over_time_not_features() -> None:
    """Only one of the evicted time steps is non-zero: the pooled pair is that step divided by c."""
    evicted = torch.tensor([[0.0, 0.0, 0.0], [3.0, -6.0, 9.0]])  # (c=2 time steps, d=3)
    new_k, _ = compress_and_push(torch.zeros(1, 3), torch.zeros(1, 3), evicted, evicted, c=2)
    # the mean over the two time steps; a mean over the features would give 0 and 2 instead
    assert new_k.tolist() == [[1.5, -3.0, 4.5]]


@pytest.mark.parametrize(("n_m", "c", "n_cm"), [(4, 2, 2), (3, 3, 1), (5, 2, 3)])
def test_compression_happens_on_eviction_not_arrival(n_m: int, c: int, n_cm: int) -> None:
    d = 2
    K = torch.arange(1.0, 3 * n_m + 1, dtype=torch.float64)[:, None].expand(-1, d)  # row j holds j + 1
    mem = hybrid_cache_init(d, dtype=torch.float64, n_m=n_m, c=c, n_cm=n_cm)
    for i in range(n_m):  # filling the local memory compresses nothing
        mem = hybrid_cache_step(mem, K[i], K[i], n_m=n_m, c=c, n_cm=n_cm)
        assert mem["cn"].item() == 0 and torch.equal(mem["ck"], torch.zeros_like(mem["ck"]))
        assert mem["n"].item() == i + 1
    mem = hybrid_cache_step(mem, K[n_m], K[n_m], n_m=n_m, c=c, n_cm=n_cm)  # Mem is full: this pair evicts
    assert mem["cn"].item() == 1 and mem["n"].item() == n_m - c + 1
    assert mem["ck"][-1].tolist() == [sum(range(1, c + 1)) / c] * d  # the mean of the c OLDEST pairs
    assert mem["k"][-1].tolist() == K[n_m].tolist()  # the newest pair is last


@settings(max_examples=30, deadline=None)
@given(case=cases())
def test_step_loop_equals_the_list_spec_and_the_closed_form(case: dict[str, int]) -> None:
    T, D, n_m, c, n_cm = case["T"], case["D"], case["n_m"], case["c"], case["n_cm"]
    K, V, _ = _seq(case["seed"], T, D)
    states = hybrid_cache_scan(K, V, n_m=n_m, c=c, n_cm=n_cm)
    for i, (cmem, local) in enumerate(_list_spec(K, V, n_m, c, n_cm)):
        n, cn = int(states["n"][i].item()), int(states["cn"][i].item())
        assert (n, cn) == (len(local), len(cmem))
        _assert_close(states["k"][i, n_m - n :], torch.tensor([k for k, _ in local], dtype=torch.float64))
        _assert_close(states["v"][i, n_m - n :], torch.tensor([v for _, v in local], dtype=torch.float64))
        assert torch.equal(states["k"][i, : n_m - n], torch.zeros(n_m - n, D, dtype=torch.float64))
        if cmem:
            _assert_close(
                states["ck"][i, n_cm - cn :], torch.tensor([k for k, _ in cmem], dtype=torch.float64)
            )
            _assert_close(
                states["cv"][i, n_cm - cn :], torch.tensor([v for _, v in cmem], dtype=torch.float64)
            )
        # closed form: Mem = positions g·c .. i, CMem = groups max(0, g - n_cm) .. g - 1
        g = _groups_evicted(i, n_m, c)
        _assert_close(states["k"][i, n_m - n :], K[g * c : i + 1])
        groups = list(range(max(0, g - n_cm), g))
        assert cn == len(groups)
        for slot, j in enumerate(groups):
            _assert_close(states["ck"][i, n_cm - cn + slot], K[j * c : (j + 1) * c].mean(dim=0))


@settings(max_examples=30, deadline=None)
@given(case=cases())
def test_readouts_equal_the_list_spec(case: dict[str, int]) -> None:
    """The step loop and the blocked/pooled parallel form both read one softmax over [CMem; Mem]."""
    T, D, n_m, c, n_cm = case["T"], case["D"], case["n_m"], case["c"], case["n_cm"]
    Q, K, V = _seq(case["seed"], T, D)
    expected = torch.tensor(
        [
            _softmax_read(q, cmem + local)
            for q, (cmem, local) in zip(Q.tolist(), _list_spec(K, V, n_m, c, n_cm), strict=True)
        ],
        dtype=torch.float64,
    )
    hp = {"n_m": n_m, "c": c, "n_cm": n_cm}
    _assert_close(attend_scan(SPEC, Q, K, V, **hp), expected)
    _assert_close(hybrid_cache_attend_parallel(Q, K, V, **hp), expected)
    _assert_close(hybrid_cache_attend_parallel(Q, K, V, **hp, block=c), expected)
    _assert_close(hybrid_cache_attend_parallel(Q, K, V, **hp, block=5 * c), expected)


@pytest.mark.parametrize(("T", "n_m", "c", "n_cm"), [(7, 4, 3, 2), (13, 4, 4, 5), (10, 3, 2, 9)])
def test_partial_group_is_never_pooled(T: int, n_m: int, c: int, n_cm: int) -> None:
    """T not divisible by c: uniform weights (q = 0) over one-hot values show exactly what each query sees."""
    Q, K, V = torch.zeros(T, 2, dtype=torch.float64), _seq(0, T, 2)[1], torch.eye(T, dtype=torch.float64)
    hp = {"n_m": n_m, "c": c, "n_cm": n_cm}
    for Y in (attend_scan(SPEC, Q, K, V, **hp), hybrid_cache_attend_parallel(Q, K, V, **hp)):
        for i in range(T):
            g = _groups_evicted(i, n_m, c)
            groups = list(range(max(0, g - n_cm), g))
            slots = len(groups) + (i + 1 - g * c)
            expected = torch.zeros(T, dtype=torch.float64)
            expected[g * c : i + 1] = 1.0 / slots  # raw local pairs
            for j in groups:  # a pooled pair spreads its weight over its c positions
                expected[j * c : (j + 1) * c] = 1.0 / (slots * c)
            _assert_close(Y[i], expected, rel=1e-12)
    last = {name: x[-1] for name, x in hybrid_cache_scan(K, K, **hp).items()}
    assert last["cn"].item() == min(_groups_evicted(T - 1, n_m, c), n_cm)
    assert last["n"].item() == T - _groups_evicted(T - 1, n_m, c) * c


def test_compression_rate_must_fit_the_local_memory() -> None:
    with pytest.raises(ValueError, match="c=5"):
        SPEC.check_hyperparams({"n_m": 4, "c": 5})
    SPEC.check_hyperparams({"n_m": 4, "c": 4})
