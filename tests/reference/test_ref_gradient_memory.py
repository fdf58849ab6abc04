"""Gradient memory (Titans, linear case): autograd step vs the closed form, the delta-rule link, momentum and decay."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.delta_rule import delta_rule_attend_parallel, delta_rule_scan
from reference.gradient_memory import (
    _gradient,
    gradient_memory_init,
    gradient_memory_read,
    gradient_memory_scan,
    gradient_memory_step,
)
from reference.registry import attend_scan, get_model
from tests.support.tensors import assert_close as _assert_close

sizes = st.fixed_dictionaries(
    {
        "B": st.integers(1, 2),
        "H": st.integers(1, 2),
        "T": st.integers(1, 30),
        "D": st.integers(1, 6),
        "D_v": st.integers(1, 5),
        "seed": st.integers(0, 2**32 - 1),
    }
)
rates = st.floats(0.0, 1.0, allow_nan=False)


def _kv(n: dict[str, int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Queries, keys of norm about 1 (so that θ‖k‖² < 2 for every θ <= 1) and values."""
    g = torch.Generator().manual_seed(n["seed"])
    shape = (n["B"], n["H"], n["T"])
    Q = torch.randn((*shape, n["D"]), generator=g, dtype=torch.float64)
    K = torch.randn((*shape, n["D"]), generator=g, dtype=torch.float64)
    K = K / K.norm(dim=-1, keepdim=True) * torch.rand((*shape, 1), generator=g, dtype=torch.float64) * 1.2
    V = torch.randn((*shape, n["D_v"]), generator=g, dtype=torch.float64)
    return Q, K, V


def _spec(
    K: torch.Tensor, V: torch.Tensor, lr: float, momentum: float, decay: float
) -> dict[str, torch.Tensor]:
    """Every (W, S) by the closed-form gradient (W k − v) kᵀ, one (batch, head) row and one token at a time."""
    B, H, T, D = K.shape
    out = {name: torch.zeros(B, H, T, V.shape[-1], D, dtype=torch.float64) for name in ("W", "S")}
    for b in range(B):
        for h in range(H):
            W = torch.zeros(V.shape[-1], D, dtype=torch.float64)
            S = torch.zeros_like(W)
            for t in range(T):
                k, v = K[b, h, t], V[b, h, t]
                gradient = torch.outer(W @ k - v, k)
                S = momentum * S - lr * gradient
                W = (1 - decay) * W + S
                out["W"][b, h, t], out["S"][b, h, t] = W, S
    return out


@settings(max_examples=25, deadline=None)
@given(n=sizes, lr=st.floats(0.0, 0.1), momentum=st.floats(0.0, 0.9), decay=st.floats(0.0, 1.0))
def test_scan_equals_the_closed_form_spec(
    n: dict[str, int], lr: float, momentum: float, decay: float
) -> None:
    _, K, V = _kv(n)
    K = K * 3.0  # ‖k‖ up to 3.6: still θ‖k‖² < 2 at θ <= 0.1
    scanned, spec = (
        gradient_memory_scan(K, V, lr=lr, momentum=momentum, decay=decay),
        _spec(K, V, lr, momentum, decay),
    )
    for name in ("W", "S"):
        _assert_close(scanned[name], spec[name])


@settings(max_examples=40, deadline=None)
@given(n=sizes, shared=st.booleans())
def test_autograd_gradient_is_the_closed_form(n: dict[str, int], shared: bool) -> None:
    """torch.func.grad of ½‖W k − v‖² equals (W k − v) kᵀ, per batch element, also for a memory shared by the batch."""
    g = torch.Generator().manual_seed(n["seed"])
    batch = (n["B"], n["H"])
    W = torch.randn(*(() if shared else batch), n["D_v"], n["D"], generator=g, dtype=torch.float64)
    k = torch.randn(*batch, n["D"], generator=g, dtype=torch.float64)
    v = torch.randn(*batch, n["D_v"], generator=g, dtype=torch.float64)
    Wb = W.expand(*batch, n["D_v"], n["D"])
    closed = (torch.einsum("...vk,...k->...v", Wb, k) - v)[..., :, None] * k[..., None, :]  # (W k − v) kᵀ
    _assert_close(_gradient(Wb, k, v), closed, rel=1e-12)
    # the step with lr = 1 and nothing else is W − ∇: per element, never summed over the batch
    step = gradient_memory_step({"W": W, "S": torch.zeros_like(W)}, k, v, lr=1.0)
    _assert_close(step["W"], Wb - closed, rel=1e-12)
    _assert_close(step["S"], -closed, rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(n=sizes, lr=rates)
def test_without_momentum_and_decay_it_is_the_delta_rule(n: dict[str, int], lr: float) -> None:
    """η = α = 0: W_i = W_{i-1} + θ (v_i − W_{i-1} k_i) k_iᵀ, the delta rule with β = θ on unnormalised keys."""
    Q, K, V = _kv(n)
    mine = gradient_memory_scan(K, V, lr=lr)
    _assert_close(mine["W"], delta_rule_scan(K, V, beta=lr, normalize_keys=False)["W"])
    readouts = attend_scan(get_model("gradient-memory"), Q, K, V, lr=lr)
    _assert_close(readouts, delta_rule_attend_parallel(Q, K, V, beta=lr, normalize_keys=False))


def test_decay_one_forgets_everything_before() -> None:
    """α = 1, η = 0: W_i = S_i = −θ ∇ℓ(W_{i-1}), so a key written two steps ago is gone."""
    e1, e2 = torch.tensor([1.0, 0.0], dtype=torch.float64), torch.tensor([0.0, 1.0], dtype=torch.float64)
    mem = gradient_memory_init(2, dtype=torch.float64)
    mem = gradient_memory_step(mem, e1, torch.tensor([3.0, 0.0], dtype=torch.float64), lr=0.5, decay=1.0)
    assert mem["W"].tolist() == [[1.5, 0.0], [0.0, 0.0]]  # −θ (0 − v) kᵀ = 0.5 · 3
    mem = gradient_memory_step(mem, e2, torch.tensor([0.0, 4.0], dtype=torch.float64), lr=0.5, decay=1.0)
    assert mem["W"].tolist() == [[0.0, 0.0], [0.0, 2.0]]  # e1's value is wiped
    assert gradient_memory_read(mem, e1).tolist() == [0.0, 0.0]
    # with decay 0 the same writes are both kept
    kept = gradient_memory_init(2, dtype=torch.float64)
    for k, v in ((e1, [3.0, 0.0]), (e2, [0.0, 4.0])):
        kept = gradient_memory_step(kept, k, torch.tensor(v, dtype=torch.float64), lr=0.5)
    assert kept["W"].tolist() == [[1.5, 0.0], [0.0, 2.0]]


def test_momentum_keeps_moving_after_the_surprise() -> None:
    """Zero keys have zero gradient: S_t = η^t S_0 and W keeps drifting by S, W_n = W_0 + S_0 (η + … + η^n)."""
    eta, lr = 0.5, 0.25
    k, v = torch.tensor([1.0, 2.0], dtype=torch.float64), torch.tensor([4.0, -2.0, 1.0], dtype=torch.float64)
    mem = gradient_memory_step(gradient_memory_init(2, dtype=torch.float64, d_v=3), k, v, lr=lr, momentum=eta)
    W0, S0 = mem["W"], mem["S"]
    _assert_close(S0, lr * torch.outer(v, k))  # first step: S_{-1} = 0, ∇ at W = 0 is −v kᵀ
    zero_k, any_v = torch.zeros(2, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    for t in range(1, 6):
        mem = gradient_memory_step(mem, zero_k, any_v, lr=lr, momentum=eta)
        _assert_close(mem["S"], eta**t * S0, rel=1e-14)
        _assert_close(mem["W"], W0 + S0 * sum(eta**j for j in range(1, t + 1)), rel=1e-14)
    # without momentum a zero key leaves the memory as it is
    still = gradient_memory_step({"W": W0, "S": S0}, zero_k, any_v, lr=lr)
    assert torch.equal(still["W"], W0) and torch.equal(still["S"], torch.zeros_like(S0))


def test_zero_lr_never_writes_and_read_is_a_forward_pass() -> None:
    g = torch.Generator().manual_seed(0)
    K, V = (
        torch.randn(2, 7, 3, generator=g, dtype=torch.float64),
        torch.randn(2, 7, 3, generator=g, dtype=torch.float64),
    )
    assert all(torch.all(x == 0) for x in gradient_memory_scan(K, V, lr=0.0, momentum=0.9).values())
    mem = {name: x[:, -1] for name, x in gradient_memory_scan(K, V).items()}
    q = torch.randn(2, 3, generator=g, dtype=torch.float64)
    _assert_close(gradient_memory_read(mem, q), torch.einsum("bvk,bk->bv", mem["W"], q), rel=1e-15)


def test_unnormalised_keys_diverge_once_the_step_passes_two() -> None:
    """θ‖k‖² = 4 > 2: the read-back error along k is multiplied by 1 − θ‖k‖² = −3 at every write."""
    k, v = torch.tensor([2.0, 0.0], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64)
    mem = gradient_memory_init(2, dtype=torch.float64, d_v=1)
    for t in range(1, 6):
        mem = gradient_memory_step(mem, k, v, lr=1.0)
        error = gradient_memory_read(mem, k) - v
        assert error.item() == -((-3.0) ** t)
