"""Delta rule: the step loop against a plain per-row spec, the exact chunked (WY/UT) form, the book's numbers, stability."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.delta_rule import (
    delta_rule_attend_parallel,
    delta_rule_init,
    delta_rule_parallel,
    delta_rule_read,
    delta_rule_scan,
    delta_rule_step,
    unit_lower_inverse,
)
from reference.fast_weight import fast_weight_init, fast_weight_read, fast_weight_step
from reference.registry import attend_scan, get_model
from tests.support.tensors import assert_close as _assert_close

sizes = st.fixed_dictionaries(
    {
        "B": st.integers(1, 2),
        "H": st.integers(1, 2),
        "T": st.integers(1, 80),
        "D": st.integers(1, 6),
        "D_v": st.integers(1, 5),
        "seed": st.integers(0, 2**32 - 1),
    }
)
betas = st.floats(0.0, 1.0, allow_nan=False)
chunks = st.sampled_from([1, 2, 3, 5, 8, 16, 64])


def _qkv(n: dict[str, int], key_scale: float = 1.0, offset: float = 0.0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(n["seed"])
    shape = (n["B"], n["H"], n["T"])
    Q = torch.randn((*shape, n["D"]), generator=g, dtype=torch.float64)
    K = torch.randn((*shape, n["D"]), generator=g, dtype=torch.float64) * key_scale + offset
    V = torch.randn((*shape, n["D_v"]), generator=g, dtype=torch.float64) - offset
    return Q, K, V


def _spec(
    Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, beta: float, normalize: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every state and read-out, one (batch, head) row and one token at a time, with 2-D tensors only."""
    B, H, T, D = K.shape
    states = torch.zeros(B, H, T, V.shape[-1], D, dtype=torch.float64)
    ys = torch.zeros(B, H, T, V.shape[-1], dtype=torch.float64)
    for b in range(B):
        for h in range(H):
            W = torch.zeros(V.shape[-1], D, dtype=torch.float64)
            for t in range(T):
                k, v, q = K[b, h, t], V[b, h, t], Q[b, h, t]
                if normalize:
                    k = k / k.norm() if k.norm() > 0 else k
                    q = q / q.norm() if q.norm() > 0 else q
                recalled = W @ k  # what the memory returns for k before the write
                W = W + beta * torch.outer(v - recalled, k)
                states[b, h, t], ys[b, h, t] = W, W @ q
    return states, ys


@settings(max_examples=40, deadline=None)
@given(n=sizes, beta=betas, chunk=chunks, offset=st.sampled_from([0.0, 1.0, 30.0]))
def test_every_form_equals_the_spec(n: dict[str, int], beta: float, chunk: int, offset: float) -> None:
    """Normalised keys: the step loop, the chunked states and the chunked read-outs equal the per-row spec."""
    Q, K, V = _qkv(n, offset=offset)
    states, ys = _spec(Q, K, V, beta, normalize=True)
    _assert_close(delta_rule_scan(K, V, beta=beta)["W"], states)
    _assert_close(delta_rule_parallel(K, V, beta=beta, chunk=chunk)["W"], states)
    _assert_close(delta_rule_attend_parallel(Q, K, V, beta=beta, chunk=chunk), ys)
    _assert_close(attend_scan(get_model("delta-rule"), Q, K, V, beta=beta), ys)


@settings(max_examples=30, deadline=None)
@given(n=sizes, beta=betas, chunk=chunks)
def test_unnormalised_keys(n: dict[str, int], beta: float, chunk: int) -> None:
    """normalize_keys=False: φ is the identity; keys of norm about 1/2 keep β‖k‖² < 2 (stable) over 80 steps."""
    Q, K, V = _qkv(n, key_scale=0.5 / n["D"] ** 0.5)
    states, ys = _spec(Q, K, V, beta, normalize=False)
    _assert_close(delta_rule_scan(K, V, beta=beta, normalize_keys=False)["W"], states)
    _assert_close(delta_rule_parallel(K, V, beta=beta, normalize_keys=False, chunk=chunk)["W"], states)
    _assert_close(delta_rule_attend_parallel(Q, K, V, beta=beta, normalize_keys=False, chunk=chunk), ys)


def test_book_example_delta_vs_sum_rule() -> None:
    """W_0 = 0, key (1, 0): write (3, 0), then (5, 0) to the same key with β = 1. Delta rule: (5, 0); sum rule: (8, 0)."""
    key = torch.tensor([1.0, 0.0], dtype=torch.float64)
    delta, fast = delta_rule_init(2, dtype=torch.float64), fast_weight_init(2, dtype=torch.float64)
    for value in ([3.0, 0.0], [5.0, 0.0]):
        v = torch.tensor(value, dtype=torch.float64)
        delta = delta_rule_step(delta, key, v, beta=1.0, normalize_keys=False)
        fast = fast_weight_step(fast, key, v)
    assert delta_rule_read(delta, key, beta=1.0, normalize_keys=False).tolist() == [5.0, 0.0]
    assert fast_weight_read(fast, key).tolist() == [8.0, 0.0]
    # the first write alone: v̄ = W_0 k = 0, so W_1 = (3 - 0) kᵀ
    first = delta_rule_step(delta_rule_init(2), key.float(), torch.tensor([3.0, 0.0]), beta=1.0)
    assert first["W"].tolist() == [[3.0, 0.0], [0.0, 0.0]]


@settings(max_examples=30, deadline=None)
@given(n=sizes)
def test_beta_one_with_a_unit_key_stores_exactly_the_last_value(n: dict[str, int]) -> None:
    """Whatever the memory held, one write with β = 1 makes it return exactly v for that (normalised) key."""
    _, K, V = _qkv(n)
    mem = {"W": delta_rule_scan(K, V, beta=0.7)["W"][:, :, -1]}  # some full memory: (B, H, D_v, D)
    g = torch.Generator().manual_seed(n["seed"] + 1)
    k = torch.randn(n["B"], n["H"], n["D"], generator=g, dtype=torch.float64) * 10.0
    v = torch.randn(n["B"], n["H"], n["D_v"], generator=g, dtype=torch.float64)
    after = delta_rule_step(mem, k, v, beta=1.0)
    _assert_close(delta_rule_read(after, k, beta=1.0), v, rel=1e-12)
    # directions orthogonal to the key are untouched
    x = torch.randn(n["B"], n["H"], n["D"], generator=g, dtype=torch.float64)
    unit = k / k.norm(dim=-1, keepdim=True)
    x = x - (x * unit).sum(-1, keepdim=True) * unit
    _assert_close(torch.einsum("bhvk,bhk->bhv", after["W"], x), torch.einsum("bhvk,bhk->bhv", mem["W"], x))


@settings(max_examples=30, deadline=None)
@given(n=sizes, beta=betas, scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_normalised_writes_are_stable(n: dict[str, int], beta: float, scale: float) -> None:
    """β in [0, 1], unit keys: the read-back after a write lies between the old read-back and the target value, and
    a write of v = 0 (pure forgetting) never grows the memory, whatever the keys' scale."""
    _, K, V = _qkv(n, key_scale=scale)
    W = delta_rule_scan(K, V, beta=beta)["W"]  # (B, H, T, D_v, D)
    before = torch.cat([torch.zeros_like(W[:, :, :1]), W[:, :, :-1]], dim=2)  # W_{t-1}
    unit = K / K.norm(dim=-1, keepdim=True)
    old = torch.einsum("bhtvk,bhtk->bhtv", before, unit)
    new = torch.einsum("bhtvk,bhtk->bhtv", W, unit)
    _assert_close(new, (1 - beta) * old + beta * V)  # W_t k_t = (1 − β) W_{t-1} k_t + β v_t
    bound = torch.maximum(old.norm(dim=-1), V.norm(dim=-1))
    assert torch.all(new.norm(dim=-1) <= bound * (1 + 1e-12) + 1e-12)
    mem = {"W": W[:, :, -1]}
    for t in range(K.shape[2]):
        shrunk = delta_rule_step(mem, K[:, :, t], torch.zeros_like(V[:, :, t]), beta=beta)
        assert torch.all(
            torch.linalg.matrix_norm(shrunk["W"], ord=2) <= torch.linalg.matrix_norm(mem["W"], ord=2) + 1e-12
        )
        mem = shrunk


def test_unnormalised_keys_diverge_once_the_step_passes_two() -> None:
    """Without normalisation the step along k is β‖k‖²: |1 − β‖k‖²| > 1 multiplies the old read-back each write."""
    k = torch.tensor([2.0, 0.0], dtype=torch.float64)  # β‖k‖² = 4 at β = 1
    mem = {"W": torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)}
    zero = torch.zeros(2, dtype=torch.float64)
    for t in range(1, 6):
        mem = delta_rule_step(mem, k, zero, beta=1.0, normalize_keys=False)
        assert mem["W"][0, 0].item() == (-3.0) ** t  # 1 − β‖k‖² = −3 per write
    normalised = delta_rule_step({"W": torch.eye(2, dtype=torch.float64)}, k, zero, beta=1.0)
    assert normalised["W"].tolist() == [[0.0, 0.0], [0.0, 1.0]]  # a unit key forgets that direction exactly


def test_zero_keys_and_queries_write_and_read_nothing() -> None:
    """φ(0) = 0: a zero key changes nothing and a zero query reads 0, no NaN from 0 / ‖0‖."""
    mem = delta_rule_step(delta_rule_init(3), torch.ones(3), torch.ones(3))
    same = delta_rule_step(mem, torch.zeros(3), torch.full((3,), 7.0))
    assert torch.equal(same["W"], mem["W"])
    assert delta_rule_read(mem, torch.zeros(3)).tolist() == [0.0, 0.0, 0.0]
    K = torch.zeros(1, 1, 5, 3)
    assert torch.equal(
        delta_rule_attend_parallel(K, K, torch.ones(1, 1, 5, 3), chunk=2), torch.zeros(1, 1, 5, 3)
    )


@pytest.mark.parametrize("chunk", [1, 4, 7, 64])
def test_chunk_boundaries_and_float32(chunk: int) -> None:
    """Lengths around multiples of the chunk, float32 against float64 (the chunked form is exact in arithmetic)."""
    g = torch.Generator().manual_seed(chunk)
    for T in (chunk - 1, chunk, chunk + 1, 3 * chunk + 2):
        if T < 1:
            continue
        Q, K, V = (torch.randn(2, 1, T, 4, generator=g, dtype=torch.float64) for _ in range(3))
        exact = delta_rule_attend_parallel(Q, K, V, chunk=chunk)
        _assert_close(exact, attend_scan(get_model("delta-rule"), Q, K, V))
        single = delta_rule_attend_parallel(Q.float(), K.float(), V.float(), chunk=chunk)
        assert single.dtype == torch.float32
        _assert_close(single.double(), exact, rel=1e-5)


def test_mixed_precision_promotes() -> None:
    mem = delta_rule_init(3, dtype=torch.float32)
    out = delta_rule_step(mem, torch.ones(3, dtype=torch.float64), torch.ones(3))
    assert out["W"].dtype == torch.float64
    assert delta_rule_read(mem, torch.ones(3, dtype=torch.float64)).dtype == torch.float64
    Q = torch.ones(1, 1, 2, 3, dtype=torch.float64)
    K = torch.ones(1, 1, 2, 3)
    assert delta_rule_attend_parallel(Q, K, K).dtype == torch.float64
    assert delta_rule_parallel(K, K.double())["W"].dtype == torch.float64


@pytest.mark.parametrize("n", [1, 5, 16, 17, 40, 64, 67])
@pytest.mark.parametrize("base", [1, 4, 16])
def test_unit_lower_inverse_inverts_the_unit_lower_triangle(n: int, base: int) -> None:
    """Even and odd sizes, one or several levels of halves: (I + tril(A, −1)) times the result is I."""
    A = 0.2 * torch.randn(3, n, n, generator=torch.Generator().manual_seed(n), dtype=torch.float64)
    L = torch.eye(n, dtype=A.dtype) + A.tril(-1)
    X = unit_lower_inverse(A, base=base)
    assert torch.allclose(L @ X, torch.eye(n, dtype=A.dtype).expand_as(L), atol=1e-9)
    assert torch.equal(X, X.tril()), "the inverse of a lower triangle is lower triangular"
