"""Cumulative average: the book's 0-based running mean, checked against plain Python and the book's numbers."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.cumulative_average import (
    cumulative_average_init,
    cumulative_average_parallel,
    cumulative_average_read,
    cumulative_average_scan,
    cumulative_average_step,
)

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)


def _prefix_means(rows: list[list[float]]) -> list[list[float]]:
    """Mem_i = (1/(i+1)) Σ_{j<=i} x_j by plain Python: no torch, no recurrence."""
    means = []
    for i in range(len(rows)):
        prefix = rows[: i + 1]
        means.append([sum(row[c] for row in prefix) / len(prefix) for c in range(len(rows[0]))])
    return means


def _scalar_scan(xs: list[float]) -> list[float]:
    K = torch.tensor(xs, dtype=torch.float64).reshape(1, 1, len(xs), 1)  # (1, 1, T, 1)
    return cumulative_average_scan(K, K)["k"].flatten().tolist()


@settings(max_examples=50, deadline=None)
@given(
    st.integers(1, 8).flatmap(
        lambda d: st.lists(st.lists(finite, min_size=2 * d, max_size=2 * d), min_size=1, max_size=40)
    )
)
def test_equals_the_mean_of_the_prefix(rows: list[list[float]]) -> None:
    d = len(rows[0]) // 2
    keys, values = [r[:d] for r in rows], [r[d:] for r in rows]
    K = torch.tensor(keys, dtype=torch.float64)[None, None]  # (1, 1, T, d)
    V = torch.tensor(values, dtype=torch.float64)[None, None]  # (1, 1, T, d)
    for out in (cumulative_average_scan(K, V), cumulative_average_parallel(K, V)):
        for name, expected in (("k", _prefix_means(keys)), ("v", _prefix_means(values))):
            ref = torch.tensor(expected, dtype=torch.float64)
            err = (out[name][0, 0] - ref).abs().max().item()
            assert err <= 1e-9 * (1 + ref.abs().max().item())
        assert out["n"][0, 0].tolist() == [float(i + 1) for i in range(len(rows))]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_first_step_is_the_first_pair(dtype: torch.dtype) -> None:
    k, v = torch.tensor([3.5, -2.0], dtype=dtype), torch.tensor([1e30, 7.25], dtype=dtype)
    mem = cumulative_average_step(cumulative_average_init(2, dtype=dtype), k, v)
    assert torch.equal(mem["k"], k) and torch.equal(mem["v"], v)
    assert mem["n"].item() == 1.0


def test_zero_initialised_state_never_makes_nan() -> None:
    mem = cumulative_average_init(3, batch=(2,))
    assert mem["n"].shape == (2,) and mem["n"].dtype == torch.float32
    out = cumulative_average_step(mem, torch.ones(2, 3), torch.ones(2, 3))
    assert all(torch.isfinite(x).all() for x in out.values())


@pytest.mark.parametrize(
    ("xs", "means"),
    [
        ([2.0, 4.0, 9.0], [2.0, 3.0, 5.0]),  # Mem_1 = (4 + 1·2)/2, Mem_2 = (9 + 2·3)/3
        ([1.0, 3.0, 5.0, 7.0], [1.0, 2.0, 3.0, 4.0]),
    ],
)
def test_book_numbers(xs: list[float], means: list[float]) -> None:
    assert _scalar_scan(xs) == pytest.approx(means, rel=1e-12)


def test_book_vector_example() -> None:
    K = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 1.0], [2.0, -1.0]], dtype=torch.float64)[None, None]
    assert cumulative_average_scan(K, K)["k"][0, 0, -1].tolist() == pytest.approx([1.5, 0.5])


def test_not_the_one_based_recursion() -> None:
    # dividing by i (1-based thinking) would give Mem_1 = (4 + 1·2)/1 = 6 instead of 3
    assert _scalar_scan([2.0, 4.0])[1] == 3.0


def test_read_is_the_stored_value_for_every_query() -> None:
    K, V = torch.randn(2, 5, 3, dtype=torch.float64), torch.randn(2, 5, 4, dtype=torch.float64)
    last = {name: x[:, -1] for name, x in cumulative_average_scan(K, V).items()}
    for q in (torch.zeros(2, 3), torch.randn(2, 3) * 100, -torch.ones(2, 3)):
        assert torch.equal(cumulative_average_read(last, q.double()), last["v"])
    # a batch of queries against one memory broadcasts
    single = {"k": last["k"][0], "v": last["v"][0], "n": last["n"][0]}
    assert cumulative_average_read(single, torch.randn(6, 3, dtype=torch.float64)).shape == (6, 4)


def test_keys_and_values_may_differ_in_width() -> None:
    K, V = torch.randn(1, 2, 7, 3, dtype=torch.float64), torch.randn(1, 2, 7, 5, dtype=torch.float64)
    scanned, parallel = cumulative_average_scan(K, V), cumulative_average_parallel(K, V)
    assert scanned["v"].shape == (1, 2, 7, 5)
    for name in scanned:
        assert torch.allclose(scanned[name], parallel[name], rtol=0, atol=1e-12)


def test_float32_long_stream_stays_close_to_float64() -> None:
    K = torch.randn(1, 1, 5000, 4, dtype=torch.float64) + 3.0
    ref = cumulative_average_parallel(K, K)["k"]
    for fn in (cumulative_average_scan, cumulative_average_parallel):
        out = fn(K.float(), K.float())["k"]
        assert out.dtype == torch.float32
        assert (out.double() - ref).abs().max().item() <= 1e-4 * (1 + ref.abs().max().item())
