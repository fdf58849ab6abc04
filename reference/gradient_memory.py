r"""Neural network as memory: a linear map trained by one gradient step per token, at test time (Titans, linear case).

Idea: the memory is a small network M whose weights are the state. Writing the pair (k_i, v_i) means teaching M to
map k_i to v_i: one step of gradient descent on the associative loss ℓ(W; k, v) = ½‖W k − v‖². Reading is a plain
forward pass M(q) = W q with no update. Titans adds momentum ("surprise" S accumulates past gradients) and a
forgetting gate α that shrinks the old weights. Here M is linear, M(k) = W k, the simplest memory Titans allows
(the paper's deep memory is an MLP; the recurrence below is the same with more parameters).

Recurrence (θ = ``lr``, η = ``momentum``, α = ``decay``, constants here; input-dependent in Titans):

    W_{-1} = 0, S_{-1} = 0,
    S_i = η S_{i-1} − θ ∇_W ℓ(W_{i-1}; k_i, v_i),     W_i = (1 − α) W_{i-1} + S_i,     y_i = W_i q_i.

The gradient is computed by autograd (``torch.func.grad``), so the code is literally "one gradient step per token";
for this loss it has the closed form ∇_W ℓ = (W k − v) kᵀ. With η = α = 0 the update is W_i = W_{i-1} + θ (v_i −
W_{i-1} k_i) k_iᵀ: the delta rule with β = θ and unnormalised keys (``reference.delta_rule``). The course notes use
‖W k − v‖² without the ½, which doubles the gradient (β = 2θ); this module keeps the ½.

Edge cases: α = 1 forgets W_{i-1} completely (W_i = S_i; the gradient is still taken at W_{i-1}); η = 0 has no
momentum; θ = 0 never writes. Keys are not normalised, so the step along k is θ‖k‖²: with η = α = 0 it is stable
while θ‖k‖² < 2 and diverges beyond. That is why θ stays in [0, 0.1] (stable for N(0,1) keys up to d ≈ 16; use
θ < 2/d for wider ones) and η in [0, 0.9]: momentum lets W overshoot, and over 80 steps at d = 8 with θ = 0.1,
η = 0.9 the weights reach ~1e5, large but finite in float32 and float64.

Shapes: state ``{"W": (*batch, d_v, d_k), "S": (*batch, d_v, d_k)}``; ``step`` takes ``k: (*batch, d_k)``,
``v: (*batch, d_v)``; ``read`` takes ``q: (*batch, d_k)`` and returns ``(*batch, d_v)``; ``scan`` returns both
tensors with a time axis. Cost: O(d²) per step (forward + backward of a d_v × d_k map), O(n d²) in total, O(d²)
memory.

No parallel form here: Titans §3.2 trains in chunks where every gradient in a chunk is taken at the chunk-start
weights (mini-batch gradient descent). That is a different model: for chunk size > 1 it is NOT equal to these
per-token updates, so ``parallel`` and ``attend_parallel`` are None.

Paper: A. Behrouz, P. Zhong, V. Mirrokni, "Titans: Learning to Memorize at Test Time", arXiv 2501.00663 (2025),
§3.1; T. Xiao and J. Zhu, "Foundations of Large Language Models", arXiv 2501.09223, ch. 2.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.func import grad

from reference.registry import (
    HyperParam,
    ModelSpec,
    State,
    batch_shape,
    check_sequences,
    register,
    stack_states,
)


def _loss(W: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """ℓ = ½ Σ_batch ‖W k − v‖². Each batch element has its own W, so ∂ℓ/∂W[b] is that element's own gradient."""
    residual = torch.einsum("...vk,...k->...v", W, k) - v  # (*batch, d_v)
    return 0.5 * (residual * residual).sum()  # ()


def _gradient(W: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """∇_W ℓ(W; k, v) by autograd, ``(*batch, d_v, d_k)``. Closed form: (W k − v) kᵀ."""
    gradient: torch.Tensor = grad(_loss)(W, k, v)  # (*batch, d_v, d_k)
    return gradient


def gradient_memory_init(
    d: int,
    *,
    batch: Sequence[int] = (),
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    d_v: int | None = None,
    lr: float = 0.1,
    momentum: float = 0.0,
    decay: float = 0.0,
) -> State:
    """W_{-1} = 0 and S_{-1} = 0, each ``(*batch, d_v, d)``; ``d_v`` defaults to ``d``."""
    del lr, momentum, decay
    shape = (*tuple(batch), d if d_v is None else d_v, d)
    return {
        "W": torch.zeros(shape, dtype=dtype, device=device),  # (*batch, d_v, d_k)
        "S": torch.zeros(shape, dtype=dtype, device=device),  # (*batch, d_v, d_k)
    }


def gradient_memory_step(
    mem: State,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    lr: float = 0.1,
    momentum: float = 0.0,
    decay: float = 0.0,
) -> State:
    """W_i, S_i from W_{i-1}, S_{i-1} and the pair (k_i, v_i): one gradient step. Pure; broadcasts over batch dims."""
    dtype = torch.promote_types(mem["W"].dtype, torch.promote_types(k.dtype, v.dtype))
    k, v = k.to(dtype), v.to(dtype)  # (*batch, d_k), (*batch, d_v)
    batch = batch_shape(mem["W"].shape[:-2], k.shape[:-1], v.shape[:-1])
    # every batch element gets its own copy of a shared memory, so that its gradient is its own
    W = mem["W"].to(dtype).expand(*batch, *mem["W"].shape[-2:])  # (*batch, d_v, d_k)
    # S_i = η S_{i-1} − θ ∇_W ℓ(W_{i-1}; k_i, v_i)          (∇_W ℓ = (W_{i-1} k_i − v_i) k_iᵀ)
    S = momentum * mem["S"].to(dtype) - lr * _gradient(W, k, v)  # (*batch, d_v, d_k)
    # W_i = (1 − α) W_{i-1} + S_i
    W = (1 - decay) * W + S  # (*batch, d_v, d_k)
    return {"W": W, "S": S}


def gradient_memory_read(
    mem: State, q: torch.Tensor, *, lr: float = 0.1, momentum: float = 0.0, decay: float = 0.0
) -> torch.Tensor:
    """y = M(q) = W q, a forward pass without a weight update; ``q: (*batch, d_k)`` -> ``(*batch, d_v)``."""
    del lr, momentum, decay
    dtype = torch.promote_types(mem["W"].dtype, q.dtype)
    # y = W q
    return torch.einsum("...vk,...k->...v", mem["W"].to(dtype), q.to(dtype))  # (*batch, d_v)


def gradient_memory_scan(
    K: torch.Tensor, V: torch.Tensor, *, lr: float = 0.1, momentum: float = 0.0, decay: float = 0.0
) -> State:
    """The specification: ``step`` over t = 0..T-1. ``K: (*batch, T, D_k)``, ``V: (*batch, T, D_v)``."""
    dtype = check_sequences(K, V)
    *batch, T, D = K.shape
    mem = gradient_memory_init(D, batch=batch, dtype=dtype, device=K.device, d_v=V.shape[-1])
    states: list[State] = []
    for t in range(T):
        mem = gradient_memory_step(mem, K[..., t, :], V[..., t, :], lr=lr, momentum=momentum, decay=decay)
        states.append(mem)  # W, S: (*batch, D_v, D_k)
    return stack_states(states, mem, axis=len(batch))  # W, S: (*batch, T, D_v, D_k)


SPEC = register(
    ModelSpec(
        id="gradient-memory",
        title="Neural memory (one gradient step per token, Titans linear case)",
        hyperparams={
            "lr": HyperParam("float", 0.0, 0.1, 0.1),
            "momentum": HyperParam("float", 0.0, 0.9, 0.0),
            "decay": HyperParam("float", 0.0, 1.0, 0.0),
        },
        state_layout={"W": ("d", "d"), "S": ("d", "d")},
        fixed_size=True,
        cost_per_step="O(d^2)",
        cost_total="O(n d^2)",
        init=gradient_memory_init,
        step=gradient_memory_step,
        read=gradient_memory_read,
        scan=gradient_memory_scan,
        parallel=None,
        paper="Behrouz et al. 2025 (Titans)",
    )
)
