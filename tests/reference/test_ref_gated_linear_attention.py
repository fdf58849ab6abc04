"""Gated (decayed) linear attention: a plain loop, the masked quadratic form, the chunked forms, and its two limits
(γ = 1 is the fast-weight sum rule; d = 1 is an EMA-like decayed running sum)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import get_model
from reference.fast_weight import fast_weight_attend_parallel, fast_weight_parallel, fast_weight_scan
from reference.gated_linear_attention import (
    gated_linear_attention_attend_parallel,
    gated_linear_attention_init,
    gated_linear_attention_parallel,
    gated_linear_attention_read,
    gated_linear_attention_scan,
    gated_linear_attention_step,
)
from reference.registry import attend_scan

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)
gammas = st.one_of(st.sampled_from([1.0, 0.9, 0.5, 1e-3, 0.999]), st.floats(1e-6, 1.0))
SPEC = get_model("gated-linear-attention")


def _close(actual: torch.Tensor, expected: torch.Tensor, rel: float = 1e-11) -> None:
    assert actual.shape == expected.shape
    err = (actual - expected).abs().max().item() if actual.numel() else 0.0
    scale = expected.abs().max().item() if expected.numel() else 0.0
    assert err <= rel * (1 + scale), err


def _loop(K: list[list[float]], V: list[list[float]], gamma: float) -> list[list[list[float]]]:
    """M_i = γ M_{i−1} + v_i k_iᵀ with M_{-1} = 0, one float at a time."""
    d_v, d_k = len(V[0]), len(K[0])
    M = [[0.0] * d_k for _ in range(d_v)]
    out = []
    for k, v in zip(K, V, strict=True):
        M = [[gamma * M[r][c] + v[r] * k[c] for c in range(d_k)] for r in range(d_v)]
        out.append(M)
    return out


def _quadratic(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, gamma: float) -> torch.Tensor:
    """Y = ((Q Kᵀ) ⊙ D) V with D_ij = γ^{i−j} for j <= i, else 0: the T × T form, written out plainly."""
    T = Q.shape[-2]
    i = torch.arange(T, dtype=torch.float64)
    age = i[:, None] - i[None, :]
    D = torch.where(age >= 0, torch.tensor(gamma, dtype=torch.float64) ** age.clamp(min=0), 0.0)
    return ((Q @ K.transpose(-1, -2)) * D) @ V


@settings(max_examples=40, deadline=None)
@given(
    rows=st.tuples(st.integers(1, 3), st.integers(1, 3)).flatmap(
        lambda dims: st.lists(
            st.tuples(
                st.lists(finite, min_size=dims[0], max_size=dims[0]),
                st.lists(finite, min_size=dims[1], max_size=dims[1]),
            ),
            min_size=1,
            max_size=40,
        )
    ),
    gamma=gammas,
    chunk=st.integers(2, 7),
)
def test_step_scan_and_parallel_equal_the_plain_loop(
    rows: list[tuple[list[float], list[float]]], gamma: float, chunk: int
) -> None:
    """Small chunks: T = 40 with chunk 2 goes several levels up the chunked scan."""
    K = torch.tensor([k for k, _ in rows], dtype=torch.float64)[None]  # (1, T, d_k)
    V = torch.tensor([v for _, v in rows], dtype=torch.float64)[None]  # (1, T, d_v)
    loop = _loop([k for k, _ in rows], [v for _, v in rows], gamma)
    expected = torch.tensor(loop, dtype=torch.float64)[None]  # (1, T, d_v, d_k)
    _close(gated_linear_attention_scan(K, V, gamma=gamma)["M"], expected)
    _close(gated_linear_attention_parallel(K, V, gamma=gamma, chunk=chunk)["M"], expected)
    mem = gated_linear_attention_init(K.shape[-1], batch=(1,), dtype=torch.float64, d_v=V.shape[-1])
    for t in range(K.shape[-2]):
        mem = gated_linear_attention_step(mem, K[:, t], V[:, t], gamma=gamma)
        _close(mem["M"], expected[:, t])


@settings(max_examples=40, deadline=None)
@given(
    T=st.integers(1, 90),
    d=st.integers(1, 5),
    gamma=gammas,
    chunk=st.integers(2, 70),
    seed=st.integers(0, 2**32 - 1),
)
def test_attend_parallel_equals_the_step_loop_and_the_masked_form(
    T: int, d: int, gamma: float, chunk: int, seed: int
) -> None:
    g = torch.Generator().manual_seed(seed)
    Q, K, V = (torch.randn(2, T, d, generator=g, dtype=torch.float64) for _ in range(3))
    chunked = gated_linear_attention_attend_parallel(Q, K, V, gamma=gamma, chunk=chunk)
    _close(chunked, attend_scan(SPEC, Q, K, V, gamma=gamma))
    _close(chunked, _quadratic(Q, K, V, gamma))


def test_gamma_one_is_the_fast_weight_sum_rule() -> None:
    g = torch.Generator().manual_seed(1)
    Q, K, V = (torch.randn(2, 3, 70, 4, generator=g, dtype=torch.float64) for _ in range(3))
    _close(gated_linear_attention_scan(K, V, gamma=1.0)["M"], fast_weight_scan(K, V)["M"], rel=0.0)
    _close(gated_linear_attention_parallel(K, V, gamma=1.0)["M"], fast_weight_parallel(K, V)["M"])
    _close(gated_linear_attention_attend_parallel(Q, K, V, gamma=1.0), fast_weight_attend_parallel(Q, K, V))
    # and any γ < 1 is not
    assert not torch.allclose(gated_linear_attention_scan(K, V, gamma=0.9)["M"], fast_weight_scan(K, V)["M"])


def test_a_pair_weighs_gamma_to_its_age() -> None:
    """One impulse at position 0 read back at position i with q = k: γ^i (q · k) v, geometric like the EMA."""
    T, gamma = 40, 0.8
    K = torch.zeros(1, T, 1, dtype=torch.float64)
    K[0, 0, 0] = 1.0
    V = K.clone()
    Q = torch.ones(1, T, 1, dtype=torch.float64)
    y = gated_linear_attention_attend_parallel(Q, K, V, gamma=gamma, chunk=8).flatten()
    _close(y, gamma ** torch.arange(T, dtype=torch.float64), rel=1e-14)


def test_d_one_is_a_decayed_running_sum_like_the_ema() -> None:
    """With scalar keys and values the state is m_i = γ m_{i−1} + k_i v_i: the EMA's recurrence with the new term
    weighted 1 instead of α (the EMA of the products k_i v_i, times 1/α, at α = 1 − γ)."""
    ema = get_model("ema")
    g = torch.Generator().manual_seed(2)
    K, V = (torch.randn(1, 30, 1, generator=g, dtype=torch.float64) for _ in range(2))
    gamma = 0.75
    m = gated_linear_attention_scan(K, V, gamma=gamma)["M"].reshape(1, 30, 1)
    products = K * V
    avg = ema.scan(products, products, alpha=1 - gamma)["v"]
    _close(m, avg / (1 - gamma))


def test_worked_example_numbers() -> None:
    """The concept page's example: d = 2, γ = 0.5, three writes, then a read."""
    K = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]], dtype=torch.float64)
    V = torch.tensor([[[2.0, 0.0], [0.0, 4.0], [2.0, 2.0]]], dtype=torch.float64)
    M = gated_linear_attention_scan(K, V, gamma=0.5)["M"][0]
    assert M[0].tolist() == [[2.0, 0.0], [0.0, 0.0]]
    assert M[1].tolist() == [[1.0, 0.0], [0.0, 4.0]]
    assert M[2].tolist() == [[2.5, 2.0], [2.0, 4.0]]
    y = gated_linear_attention_read({"M": M[2]}, torch.tensor([1.0, 0.0], dtype=torch.float64), gamma=0.5)
    assert y.tolist() == [2.5, 2.0]


def test_decay_applies_to_the_past_only() -> None:
    """The new pair enters with weight 1: after one write the memory is v_0 k_0ᵀ whatever γ is."""
    k, v = torch.tensor([1.0, 2.0]), torch.tensor([3.0, -1.0])
    for gamma in (1.0, 0.5, 0.01):
        mem = gated_linear_attention_step(gated_linear_attention_init(2), k, v, gamma=gamma)
        assert torch.equal(mem["M"], torch.outer(v, k))


def test_float32_long_stream_stays_close_to_float64() -> None:
    g = torch.Generator().manual_seed(3)
    Q, K, V = (torch.randn(1, 2, 5000, 8, generator=g, dtype=torch.float64) / 8**0.5 for _ in range(3))
    V = V + 10.0
    exact = gated_linear_attention_attend_parallel(Q, K, V, gamma=0.99)
    single = gated_linear_attention_attend_parallel(Q.float(), K.float(), V.float(), gamma=0.99)
    assert single.dtype == torch.float32
    _close(single.double(), exact, rel=1e-5)


@pytest.mark.parametrize("gamma", [0.0, -0.5, 1.5])
def test_gamma_outside_zero_one_is_rejected(gamma: float) -> None:
    with pytest.raises(ValueError, match="gamma"):
        SPEC.check_hyperparams({"gamma": gamma})
