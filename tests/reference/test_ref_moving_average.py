"""Moving-average caches (unweighted and weighted): window means checked against plain Python and the book."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import MODELS, attend_scan
from reference.moving_average import (
    moving_average_attend_parallel,
    moving_average_init,
    moving_average_parallel,
    moving_average_read,
    moving_average_scan,
    moving_average_step,
)
from reference.weighted_moving_average import (
    weighted_moving_average_attend_parallel,
    weighted_moving_average_parallel,
    weighted_moving_average_scan,
    weighted_moving_average_step,
)

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)
Rows = list[list[float]]


def _window_means(rows: Rows, n_c: int, weights: list[float] | None = None) -> Rows:
    """Mem_i by plain Python: the pairs j = max(0, i−n_c+1)..i, the newest weighted by weights[-1] (ramp if None)."""
    beta = weights if weights is not None else [float(j) for j in range(1, n_c + 1)]
    means = []
    for i in range(len(rows)):
        window = rows[max(0, i - n_c + 1) : i + 1]
        w = beta[len(beta) - len(window) :]  # the len(window) most recent weights, oldest first
        means.append(
            [sum(wj * r[c] for wj, r in zip(w, window, strict=True)) / sum(w) for c in range(len(rows[0]))]
        )
    return means


def _plain_means(rows: Rows, n_c: int) -> Rows:
    return _window_means(rows, n_c, [1.0] * n_c)


def _buffers(rows: Rows, n_c: int) -> list[Rows]:
    """The right-aligned buffer after each step: zeros in front, then the last min(i+1, n_c) rows."""
    d = len(rows[0])
    out = []
    for i in range(len(rows)):
        window = rows[max(0, i - n_c + 1) : i + 1]
        out.append([[0.0] * d] * (n_c - len(window)) + window)
    return out


def _tensor(rows: Rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)[None, None]  # (1, 1, T, d)


def _close(actual: torch.Tensor, expected: list[object] | torch.Tensor, rel: float = 1e-9) -> bool:
    ref = expected if isinstance(expected, torch.Tensor) else torch.tensor(expected, dtype=torch.float64)
    assert actual.shape == ref.shape, (actual.shape, ref.shape)
    return (actual - ref).abs().max().item() <= rel * (1 + ref.abs().max().item())


pairs = st.integers(1, 5).flatmap(
    lambda d: st.lists(st.lists(finite, min_size=2 * d, max_size=2 * d), min_size=1, max_size=30)
)


@settings(max_examples=40, deadline=None)
@given(rows=pairs, n_c=st.integers(1, 12))
def test_unweighted_states_equal_plain_python(rows: Rows, n_c: int) -> None:
    d = len(rows[0]) // 2
    keys, values = [r[:d] for r in rows], [r[d:] for r in rows]
    K, V = _tensor(keys), _tensor(values)
    for out in (moving_average_scan(K, V, n_c=n_c), moving_average_parallel(K, V, n_c=n_c)):
        assert _close(out["k"][0, 0], _plain_means(keys, n_c))
        assert _close(out["v"][0, 0], _plain_means(values, n_c))
        assert torch.equal(out["win_k"][0, 0], torch.tensor(_buffers(keys, n_c), dtype=torch.float64))
        assert torch.equal(out["win_v"][0, 0], torch.tensor(_buffers(values, n_c), dtype=torch.float64))
        assert out["n"][0, 0].tolist() == [float(min(i + 1, n_c)) for i in range(len(rows))]


@settings(max_examples=40, deadline=None)
@given(rows=pairs, n_c=st.integers(1, 12), block=st.integers(1, 9))
def test_weighted_states_and_readouts_equal_plain_python(rows: Rows, n_c: int, block: int) -> None:
    d = len(rows[0]) // 2
    keys, values = [r[:d] for r in rows], [r[d:] for r in rows]
    K, V = _tensor(keys), _tensor(values)
    scanned = weighted_moving_average_scan(K, V, n_c=n_c)
    parallel = weighted_moving_average_parallel(K, V, n_c=n_c, block=block)
    for out in (scanned, parallel):
        assert _close(out["k"][0, 0], _window_means(keys, n_c))
        assert _close(out["v"][0, 0], _window_means(values, n_c))
        assert torch.equal(out["win_v"][0, 0], torch.tensor(_buffers(values, n_c), dtype=torch.float64))
    # small blocks: the Toeplitz blocks and their look-back cross many block boundaries
    Y = weighted_moving_average_attend_parallel(K, K, V, n_c=n_c, block=block)
    assert _close(Y[0, 0], _window_means(values, n_c))


@settings(max_examples=30, deadline=None)
@given(rows=pairs, n_c=st.integers(1, 40))
def test_unweighted_readouts_equal_plain_python(rows: Rows, n_c: int) -> None:
    """n_c up to 40 against T up to 30: windows that never fill, fill exactly, and slide across block edges."""
    V = _tensor(rows)
    assert _close(moving_average_attend_parallel(V, V, V, n_c=n_c)[0, 0], _plain_means(rows, n_c))


K_BOOK = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]
V_BOOK = [[10.0, 11.0], [12.0, 13.0], [14.0, 15.0], [16.0, 17.0]]


def test_book_example() -> None:
    """The card's k_1..k_4 (1-based) are i = 0..3 here; "memory at step 4" is Mem_3, the mean of i = 1, 2, 3."""
    for fn in (moving_average_scan, moving_average_parallel):
        out = fn(_tensor(K_BOOK), _tensor(V_BOOK), n_c=3)
        assert out["k"][0, 0, 3].tolist() == [5.0, 6.0]
        assert out["v"][0, 0, 3].tolist() == [14.0, 15.0]
        # Mem_2 is the first full window (i = 0, 1, 2)
        assert out["k"][0, 0, 2].tolist() == [3.0, 4.0] and out["v"][0, 0, 2].tolist() == [12.0, 13.0]
        assert out["n"][0, 0].tolist() == [1.0, 2.0, 3.0, 3.0]


def test_warm_up_divides_by_the_pairs_present() -> None:
    # dividing by n_c during warm-up would give 1/3 and 2/3 of the first two means
    out = moving_average_scan(_tensor(K_BOOK), _tensor(V_BOOK), n_c=3)
    assert out["k"][0, 0, 0].tolist() == [1.0, 2.0]  # Mem_0 = (k_0, v_0)
    assert out["k"][0, 0, 1].tolist() == [2.0, 3.0]  # (k_0 + k_1) / 2
    ones = torch.ones(1, 1, 6, 2, dtype=torch.float64)
    for fn in (moving_average_parallel, weighted_moving_average_parallel):
        assert torch.equal(fn(ones, ones, n_c=4)["v"], ones)  # a constant stream has constant means


def test_first_step_and_window_of_one() -> None:
    k, v = torch.tensor([3.5, -2.0]), torch.tensor([1e30, 7.25])
    for step in (moving_average_step, weighted_moving_average_step):
        mem = step(moving_average_init(2, n_c=5), k, v, n_c=5)
        assert torch.equal(mem["k"], k) and torch.equal(mem["v"], v) and mem["n"].item() == 1.0
        assert torch.equal(mem["win_k"][-1], k) and not mem["win_k"][:-1].any()
    K = torch.randn(2, 9, 3, dtype=torch.float64)
    assert torch.equal(moving_average_scan(K, K, n_c=1)["k"], K)  # n_c = 1: the newest pair only


def test_steps_a_batch_at_different_fill_levels() -> None:
    K = torch.randn(2, 7, 3, dtype=torch.float64)
    states = [moving_average_scan(K[b : b + 1], K[b : b + 1], n_c=4) for b in range(2)]
    # batch element 0 has seen 1 pair (window not full), element 1 has seen 6 (full)
    mem = {name: torch.cat([states[0][name][:, 0], states[1][name][:, 5]]) for name in states[0]}
    k = torch.randn(2, 3, dtype=torch.float64)
    for step in (moving_average_step, weighted_moving_average_step):
        both = step(mem, k, k, n_c=4)
        for b in range(2):
            alone = step({name: x[b] for name, x in mem.items()}, k[b], k[b], n_c=4)
            for name in both:
                # the weighted mean is a matmul, whose rounding may differ between a batch and one row (MKL)
                torch.testing.assert_close(
                    both[name][b], alone[name], rtol=1e-14, atol=0, msg=f"{step.__name__} {name} {b}"
                )
    assert moving_average_step(mem, k, k, n_c=4)["n"].tolist() == [2.0, 4.0]


def _float32_error(attend: Callable[[torch.Tensor], torch.Tensor]) -> float:
    """Norm-relative error of a float32 window mean over T = 100000 keys near 1000, against float64."""
    X = (
        torch.randn(1, 1, 100_000, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        + 1000.0
    )
    exact = moving_average_attend_parallel(X, X, X, n_c=3)
    return (attend(X.float()).double() - exact).abs().max().item() / (1 + exact.abs().max().item())


def _prefix_difference_mean(X: torch.Tensor, n_c: int) -> torch.Tensor:
    """The tempting O(T) shortcut (C_{i+1} − C_{i+1−n_c}) / m_i over whole-sequence prefix sums C: inaccurate."""
    C = F.pad(X.cumsum(dim=-2), (0, 0, n_c, 0))  # (..., n_c + T, d): n_c zeros, then C_1..C_T
    counts = torch.arange(1, X.shape[-2] + 1, dtype=X.dtype).clamp(max=n_c)[:, None]
    return (C[..., n_c:, :] - C[..., :-n_c, :]) / counts


def test_float32_long_stream_with_offset_stays_accurate() -> None:
    assert _float32_error(lambda X: moving_average_attend_parallel(X, X, X, n_c=3)) <= 1e-3
    assert _float32_error(lambda X: moving_average_parallel(X, X, n_c=3)["v"]) <= 1e-3
    # the same check catches the prefix-sum difference: digits of the huge running sums cancel
    assert _float32_error(lambda X: _prefix_difference_mean(X, 3)) > 1e-3
    # and in float64 the shortcut agrees, so the failure above is rounding, not a wrong formula
    X = torch.randn(1, 1, 500, 4, dtype=torch.float64) + 1000.0
    assert _close(_prefix_difference_mean(X, 3), moving_average_attend_parallel(X, X, X, n_c=3))


def test_weighted_float32_long_stream_stays_accurate() -> None:
    X = (
        torch.randn(1, 1, 100_000, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        + 1000.0
    )
    exact = weighted_moving_average_attend_parallel(X, X, X, n_c=300)
    single = weighted_moving_average_attend_parallel(X.float(), X.float(), X.float(), n_c=300)
    assert _close(single.double(), exact, rel=1e-5)


def test_weighted_numbers_and_the_wrong_variants() -> None:
    """Ramp β = 1, 2, 3 (newest 3): on 0, 0, 6 the mean is 3·6 / 6 = 3."""
    X = torch.tensor([0.0, 0.0, 6.0], dtype=torch.float64).reshape(1, 1, 3, 1)
    right = weighted_moving_average_scan(X, X, n_c=3)["k"].flatten().tolist()
    assert right == [0.0, 0.0, 3.0]
    # the largest weight on the oldest pair gives 1·6 / 6 = 1; dividing by n_c instead of Σβ gives 3·6 / 3 = 6
    reverse = weighted_moving_average_scan(X, X, n_c=3, weights=torch.tensor([3.0, 2.0, 1.0]))
    assert reverse["k"].flatten().tolist() == [0.0, 0.0, 1.0]
    # warm-up: at i = 1 the pairs present carry the two most recent weights, 2 and 3: (2·0 + 3·0) / 5
    Y = torch.tensor([4.0, 9.0], dtype=torch.float64).reshape(1, 1, 2, 1)
    assert weighted_moving_average_scan(Y, Y, n_c=3)["k"].flatten().tolist() == [4.0, (2 * 4 + 3 * 9) / 5]


def test_the_plain_python_spec_catches_the_wrong_variants() -> None:
    """Each wrong weighting differs from the ramp spec by far more than the tolerance, on random data."""
    rows = torch.randn(25, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64).tolist()
    spec = _window_means(rows, 5)
    V = _tensor(rows)
    assert _close(weighted_moving_average_attend_parallel(V, V, V, n_c=5)[0, 0], spec)
    reversed_ramp = weighted_moving_average_attend_parallel(
        V, V, V, n_c=5, weights=torch.arange(5.0, 0.0, -1.0)
    )
    assert not _close(reversed_ramp[0, 0], spec)
    # Σ_lag β x / n_c instead of / Σβ: the ramp's sum over the full window is 15, not 5
    by_n_c = weighted_moving_average_attend_parallel(V, V, V, n_c=5) * 15 / 5
    assert not _close(by_n_c[0, 0], spec)


@settings(max_examples=20, deadline=None)
@given(rows=pairs, weights=st.lists(st.floats(0.01, 10.0), min_size=1, max_size=8))
def test_custom_weights(rows: Rows, weights: list[float]) -> None:
    n_c, V = len(weights), _tensor(rows)
    beta = torch.tensor(weights, dtype=torch.float64)
    expected = _window_means(rows, n_c, weights)
    assert _close(weighted_moving_average_scan(V, V, n_c=n_c, weights=beta)["v"][0, 0], expected)
    assert _close(
        weighted_moving_average_attend_parallel(V, V, V, n_c=n_c, weights=beta, block=3)[0, 0], expected
    )
    spec = MODELS["weighted-moving-average"]
    assert _close(attend_scan(spec, V, V, V, n_c=n_c, weights=beta)[0, 0], expected)


def test_uniform_weights_are_the_unweighted_model() -> None:
    K, V = torch.randn(2, 3, 30, 4, dtype=torch.float64), torch.randn(2, 3, 30, 5, dtype=torch.float64)
    plain, weighted = (
        moving_average_parallel(K, V, n_c=7),
        weighted_moving_average_parallel(K, V, n_c=7, weights=torch.ones(7)),
    )
    for name in plain:
        assert _close(weighted[name], plain[name], rel=1e-12)


def test_bad_arguments_are_rejected() -> None:
    K = torch.randn(5, 3)
    with pytest.raises(ValueError, match="weights"):
        weighted_moving_average_scan(K, K, n_c=3, weights=torch.ones(4))
    with pytest.raises(ValueError, match="n_c"):
        moving_average_step(moving_average_init(3, n_c=4), K[0], K[0], n_c=3)


def test_read_is_the_stored_value_for_every_query() -> None:
    K, V = torch.randn(2, 6, 3, dtype=torch.float64), torch.randn(2, 6, 4, dtype=torch.float64)
    last = {name: x[:, -1] for name, x in moving_average_scan(K, V, n_c=3).items()}
    for q in (torch.zeros(2, 3), 100 * torch.randn(2, 3), -torch.ones(2, 3)):
        assert torch.equal(moving_average_read(last, q.double(), n_c=3), last["v"])
