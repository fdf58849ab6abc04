"""Fast weights / linear attention (sum rule): states and causal read-outs against naive loops."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.fast_weight import (
    fast_weight_attend_parallel,
    fast_weight_attend_scan,
    fast_weight_init,
    fast_weight_parallel,
    fast_weight_read,
    fast_weight_scan,
    fast_weight_step,
)
from tests.support.tensors import assert_close as _assert_close

sizes = st.fixed_dictionaries(
    {
        "B": st.integers(1, 3),
        "H": st.integers(1, 3),
        "T": st.integers(1, 40),
        "D": st.integers(1, 8),
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


def _naive_readouts(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """y_i = Σ_{j<=i} v_j (k_j · q_i), one scalar at a time."""
    B, H, T, _ = Q.shape
    Y = torch.zeros(B, H, T, V.shape[-1], dtype=V.dtype)
    for b in range(B):
        for h in range(H):
            for i in range(T):
                for j in range(i + 1):
                    Y[b, h, i] += V[b, h, j] * float(K[b, h, j] @ Q[b, h, i])
    return Y


def elu_plus_one(x: torch.Tensor) -> torch.Tensor:
    return F.elu(x) + 1


def split_relu(x: torch.Tensor) -> torch.Tensor:
    """A feature map that doubles the width: φ(x) = [relu(x), relu(-x)]."""
    return torch.cat([F.relu(x), F.relu(-x)], dim=-1)


@settings(max_examples=50, deadline=None)
@given(n=sizes)
def test_parallel_readouts_equal_a_naive_loop(n: dict[str, int]) -> None:
    n = {**n, "T": min(n["T"], 16)}  # the naive loop is O(T^2) Python
    Q, K, V = _qkv(n)
    naive = _naive_readouts(Q, K, V)
    _assert_close(fast_weight_attend_parallel(Q, K, V), naive)
    _assert_close(fast_weight_attend_scan(Q, K, V), naive)


@settings(max_examples=50, deadline=None)
@given(n=sizes, d_v=st.integers(1, 6))
def test_attend_scan_equals_parallel(n: dict[str, int], d_v: int) -> None:
    Q, K, V = _qkv(n, d_v)
    _assert_close(fast_weight_attend_parallel(Q, K, V), fast_weight_attend_scan(Q, K, V))


@settings(max_examples=30, deadline=None)
@given(n=sizes)
def test_states_are_sums_of_outer_products(n: dict[str, int]) -> None:
    _, K, V = _qkv({**n, "T": min(n["T"], 10)})
    M = fast_weight_scan(K, V)["M"]
    expected = torch.zeros_like(M[:, :, 0])
    for t in range(K.shape[2]):
        expected = expected + V[:, :, t, :, None] * K[:, :, t, None, :]  # v_t k_tᵀ: (B, H, D, D)
        _assert_close(M[:, :, t], expected)


@settings(max_examples=30, deadline=None)
@given(n=sizes, t=st.integers(0, 39))
def test_parallel_readout_is_causal(n: dict[str, int], t: int) -> None:
    Q, K, V = _qkv(n)
    t = min(t, n["T"] - 1)
    Q2, K2, V2 = Q.clone(), K.clone(), V.clone()
    for X in (Q2, K2, V2):
        X[:, :, t + 1 :] += 1000.0 * torch.randn_like(X[:, :, t + 1 :])
    for attend in (fast_weight_attend_parallel, fast_weight_attend_scan):
        before, after = attend(Q, K, V), attend(Q2, K2, V2)
        assert torch.equal(before[:, :, : t + 1], after[:, :, : t + 1])
    assert torch.equal(
        fast_weight_parallel(K, V)["M"][:, :, : t + 1], fast_weight_parallel(K2, V2)["M"][:, :, : t + 1]
    )


def test_token_sees_itself() -> None:
    q, k, v = torch.tensor([[[[1.0, 2.0]]]]), torch.tensor([[[[3.0, -1.0]]]]), torch.tensor([[[[0.5, 4.0]]]])
    expected = v * (k * q).sum(-1, keepdim=True)  # y_0 = v_0 (k_0 · q_0): write before read
    assert torch.equal(fast_weight_attend_parallel(q, k, v), expected)
    assert torch.equal(fast_weight_attend_scan(q, k, v), expected)


def test_quiz_numbers() -> None:
    mem = fast_weight_init(2, dtype=torch.float64)
    mem = fast_weight_step(mem, torch.tensor([1.0, 0.0]), torch.tensor([2.0, 0.0]))
    mem = fast_weight_step(mem, torch.tensor([0.0, 1.0]), torch.tensor([0.0, 4.0]))
    assert mem["M"].tolist() == [[2.0, 0.0], [0.0, 4.0]]
    assert fast_weight_read(mem, torch.tensor([1.0, 1.0])).tolist() == [2.0, 4.0]
    # the sum rule adds a second write to the same key: 3 + 5
    same = fast_weight_init(2)
    for value in (3.0, 5.0):
        same = fast_weight_step(same, torch.tensor([1.0, 0.0]), torch.tensor([value, 0.0]))
    assert fast_weight_read(same, torch.tensor([1.0, 0.0])).tolist() == [8.0, 0.0]


def test_orthonormal_keys_are_recalled_exactly() -> None:
    d = 5
    keys = torch.linalg.qr(torch.randn(d, d, dtype=torch.float64)).Q.T  # rows are orthonormal
    values = torch.randn(d, 3, dtype=torch.float64)
    mem = fast_weight_init(d, dtype=torch.float64, d_v=3)
    for k, v in zip(keys, values, strict=True):
        mem = fast_weight_step(mem, k, v)
    recalled = fast_weight_read(mem, keys)  # a batch of d queries against one memory: (d, 3)
    assert torch.allclose(recalled, values, rtol=0, atol=1e-12)


@pytest.mark.parametrize("feature_map", [elu_plus_one, split_relu])
def test_feature_map(feature_map: object) -> None:
    assert callable(feature_map)
    g = torch.Generator().manual_seed(0)
    Q, K, V = (torch.randn(2, 3, 9, 4, generator=g, dtype=torch.float64) for _ in range(3))
    scanned, parallel = (
        fast_weight_scan(K, V, feature_map=feature_map),
        fast_weight_parallel(K, V, feature_map=feature_map),
    )
    width = feature_map(K).shape[-1]
    assert scanned["M"].shape == parallel["M"].shape == (2, 3, 9, 4, width)
    _assert_close(parallel["M"], scanned["M"])
    Y = fast_weight_attend_parallel(Q, K, V, feature_map=feature_map)
    _assert_close(Y, fast_weight_attend_scan(Q, K, V, feature_map=feature_map))
    _assert_close(Y, _naive_readouts(feature_map(Q), feature_map(K), V))


def test_identity_is_the_default_feature_map() -> None:
    g = torch.Generator().manual_seed(1)
    Q, K, V = (torch.randn(1, 2, 6, 3, generator=g, dtype=torch.float64) for _ in range(3))
    assert torch.equal(
        fast_weight_attend_parallel(Q, K, V), fast_weight_attend_parallel(Q, K, V, feature_map=lambda x: x)
    )


def test_mixed_precision_promotes() -> None:
    mem = fast_weight_init(3, dtype=torch.float64)
    out = fast_weight_step(mem, torch.ones(3), torch.ones(3))  # float32 pair into a float64 memory
    assert out["M"].dtype == torch.float64
    assert fast_weight_read(out, torch.ones(3)).dtype == torch.float64
    Q = torch.ones(1, 1, 2, 3, dtype=torch.float64)
    K = V = torch.ones(1, 1, 2, 3)
    assert (
        fast_weight_attend_parallel(Q, K, V).dtype == fast_weight_attend_scan(Q, K, V).dtype == torch.float64
    )
