"""Linear attention (normalised): states and read-outs against plain loops, the book's numbers, the normaliser."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.linear_attention import (
    linear_attention_attend_parallel,
    linear_attention_init,
    linear_attention_parallel,
    linear_attention_read,
    linear_attention_scan,
    linear_attention_step,
)
from reference.registry import attend_scan, get_model
from tests.support.tensors import assert_close as _assert_close

sizes = st.fixed_dictionaries(
    {
        "B": st.integers(1, 2),
        "H": st.integers(1, 2),
        "T": st.integers(1, 30),
        "D": st.integers(1, 6),
        "seed": st.integers(0, 2**32 - 1),
    }
)


def _qkv(n: dict[str, int], d_v: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(n["seed"])
    shape = (n["B"], n["H"], n["T"], n["D"])
    Q = torch.randn(shape, generator=g, dtype=torch.float64)
    K = torch.randn(shape, generator=g, dtype=torch.float64)
    V = torch.randn((*shape[:-1], d_v or n["D"]), generator=g, dtype=torch.float64)
    return Q, K, V


def _elu1(x: float) -> float:
    return x + 1.0 if x > 0 else float(torch.tensor(x, dtype=torch.float64).exp())


def _naive_readouts(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """y_i = Σ_{j<=i} v_j (φk_j · φq_i) / Σ_{j<=i} φk_j · φq_i with φ = elu + 1, one scalar at a time."""
    B, H, T, D = Q.shape
    Y = torch.zeros(B, H, T, V.shape[-1], dtype=torch.float64)
    for b in range(B):
        for h in range(H):
            for i in range(T):
                num, den = torch.zeros(V.shape[-1], dtype=torch.float64), 0.0
                for j in range(i + 1):
                    w = sum(_elu1(float(K[b, h, j, c])) * _elu1(float(Q[b, h, i, c])) for c in range(D))
                    num, den = num + w * V[b, h, j], den + w
                Y[b, h, i] = num / den
    return Y


@settings(max_examples=25, deadline=None)
@given(n=sizes, d_v=st.integers(1, 5))
def test_readouts_equal_a_naive_loop(n: dict[str, int], d_v: int) -> None:
    n = {**n, "T": min(n["T"], 12)}  # the naive loop is O(T^2 D) Python
    Q, K, V = _qkv(n, d_v)
    naive = _naive_readouts(Q, K, V)
    _assert_close(linear_attention_attend_parallel(Q, K, V), naive)
    _assert_close(attend_scan(get_model("linear-attention"), Q, K, V), naive)


@settings(max_examples=25, deadline=None)
@given(n=sizes)
def test_states_are_prefix_sums(n: dict[str, int]) -> None:
    _, K, V = _qkv({**n, "T": min(n["T"], 10)})
    phi_k = F.elu(K) + 1
    M, z = torch.zeros_like(V[:, :, 0, :, None] * K[:, :, 0, None, :]), torch.zeros_like(K[:, :, 0])
    scanned, parallel = linear_attention_scan(K, V), linear_attention_parallel(K, V)
    for t in range(K.shape[2]):
        M = M + V[:, :, t, :, None] * phi_k[:, :, t, None, :]  # v_t φ(k_t)ᵀ: (B, H, D_v, D_k)
        z = z + phi_k[:, :, t]
        for out in (scanned, parallel):
            _assert_close(out["M"][:, :, t], M)
            _assert_close(out["z"][:, :, t], z)


def test_book_numbers_with_identity_features() -> None:
    identity = lambda x: x  # noqa: E731 - the book's stem uses φ = identity for integer arithmetic
    mem = linear_attention_init(2, dtype=torch.float64, feature_map=identity)
    mem = linear_attention_step(mem, torch.tensor([1.0, 0.0]), torch.tensor([2.0, 0.0]), feature_map=identity)
    mem = linear_attention_step(mem, torch.tensor([0.0, 1.0]), torch.tensor([0.0, 4.0]), feature_map=identity)
    assert mem["M"].tolist() == [[2.0, 0.0], [0.0, 4.0]]  # S = Σ v φ(k)ᵀ (symmetric here, so S = Sᵀ)
    assert mem["z"].tolist() == [1.0, 1.0]
    # q = (1, 1): numerator (2, 4), denominator φ(q) · z = 2
    assert linear_attention_read(mem, torch.tensor([1.0, 1.0]), feature_map=identity).tolist() == [1.0, 2.0]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_first_read_is_the_first_value(dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(3)
    k, v = torch.randn(5, 4, generator=g, dtype=dtype), 100 * torch.randn(5, 3, generator=g, dtype=dtype)
    mem = linear_attention_step(linear_attention_init(4, batch=(5,), dtype=dtype, d_v=3), k, v)
    for scale in (0.0, 1.0, 30.0):  # whatever the query: one term above, the same term below
        q = scale * torch.randn(5, 4, generator=g, dtype=dtype)
        assert torch.allclose(
            linear_attention_read(mem, q), v, rtol=1e-5 if dtype == torch.float32 else 1e-12
        )


def test_reading_the_empty_memory_is_zero_not_nan() -> None:
    mem = linear_attention_init(3, batch=(2,), d_v=4)
    out = linear_attention_read(mem, torch.randn(2, 3))
    assert out.shape == (2, 4) and torch.equal(out, torch.zeros(2, 4))


@settings(max_examples=25, deadline=None)
@given(n=sizes, chunk=st.integers(1, 9))
def test_associativity_chunk_size_is_only_a_summation_order(n: dict[str, int], chunk: int) -> None:
    """(φQ φKᵀ ⊙ causal) V / rowsum equals the chunked φQ (Σ φK Vᵀ) / φQ · z for every chunk size."""
    Q, K, V = _qkv(n)
    phi_q, phi_k = F.elu(Q) + 1, F.elu(K) + 1
    A = (phi_q @ phi_k.transpose(-1, -2)).tril()  # (B, H, T, T): quadratic form, T small here
    quadratic = (A @ V) / A.sum(dim=-1, keepdim=True)
    _assert_close(linear_attention_attend_parallel(Q, K, V, chunk=chunk), quadratic)


@settings(max_examples=15, deadline=None)
@given(n=sizes, shift=st.floats(-50, 50), scale=st.floats(0.1, 10))
def test_the_normaliser_makes_a_weighted_average(n: dict[str, int], shift: float, scale: float) -> None:
    """Positive weights summing to 1: constant values come back unchanged, and y is affine in V."""
    Q, K, V = _qkv(n)
    Y = linear_attention_attend_parallel(Q, K, V)
    _assert_close(linear_attention_attend_parallel(Q, K, scale * V + shift), scale * Y + shift)
    const = torch.full_like(V, 7.0)
    _assert_close(linear_attention_attend_parallel(Q, K, const), const)
    # every output lies inside the range of the values it averages
    above = Y - V.cummax(dim=2).values  # <= 0: below the largest value seen so far
    below = V.cummin(dim=2).values - Y  # <= 0: above the smallest
    assert above.max().item() <= 1e-9 and below.max().item() <= 1e-9


def test_unnormalised_sum_would_differ() -> None:
    """Guard against the fast-weight read: M φ(q) without the division is not this model's read-out."""
    Q, K, V = _qkv({"B": 1, "H": 1, "T": 6, "D": 3, "seed": 5})
    phi_q, phi_k = F.elu(Q) + 1, F.elu(K) + 1
    unnormalised = (phi_q @ phi_k.transpose(-1, -2)).tril() @ V
    assert not torch.allclose(linear_attention_attend_parallel(Q, K, V), unnormalised)


def test_feature_map_may_widen_the_key() -> None:
    def two_sided(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.elu(x) + 1, F.elu(-x) + 1], dim=-1)  # 2d features, positive

    Q, K, V = _qkv({"B": 2, "H": 1, "T": 9, "D": 3, "seed": 2})
    scanned = linear_attention_scan(K, V, feature_map=two_sided)
    assert scanned["M"].shape == (2, 1, 9, 3, 6) and scanned["z"].shape == (2, 1, 9, 6)
    for name, x in linear_attention_parallel(K, V, feature_map=two_sided).items():
        _assert_close(x, scanned[name])
    mem = linear_attention_init(3, batch=(2, 1), dtype=torch.float64, feature_map=two_sided)
    ys = []
    for t in range(9):
        mem = linear_attention_step(mem, K[:, :, t], V[:, :, t], feature_map=two_sided)
        ys.append(linear_attention_read(mem, Q[:, :, t], feature_map=two_sided))
    _assert_close(linear_attention_attend_parallel(Q, K, V, feature_map=two_sided), torch.stack(ys, dim=2))
