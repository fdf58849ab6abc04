r"""Fast weights: linear attention as a matrix memory (sum rule).

Idea: drop the softmax from attention and the sum Σ_j v_j (k_j · q) regroups as (Σ_j v_j k_jᵀ) q. The bracket is a
d_v × d_k matrix M, a "fast weight" that each token programs with one outer product and every query reads with
one matrix-vector product. The memory has a fixed size however many tokens were written.

Recurrence (φ is an optional feature map, the identity by default):

    M_{-1} = 0,    M_i = M_{i-1} + v_i φ(k_i)ᵀ,    y_i = M_i φ(q_i) = Σ_{j<=i} v_j (φ(k_j) · φ(q_i)).

The read comes after the write, so token i sees its own pair. Causal parallel form (masked quadratic):
Y = tril(φ(Q) φ(K)ᵀ) V, computed in chunks so that the T × T matrix is never formed.

Shapes: state ``{"M": (*batch, d_v, d_k)}``; ``step`` takes ``k: (*batch, d_k)``, ``v: (*batch, d_v)``;
``read`` takes ``q: (*batch, d_k)`` and returns ``(*batch, d_v)``; ``scan``/``parallel`` take ``K, V: (B, H, T, D)``
and return ``{"M": (B, H, T, D, D)}``; ``fast_weight_attend_*`` take ``Q, K, V: (B, H, T, D)`` and return the read-outs
``Y: (B, H, T, D)``.

Cost: O(d^2) per step, O(n d^2) in total, O(d^2) memory (the quadratic form costs O(n^2 d) instead).

Not here yet: the normalised read of Katharopoulos et al., y_i = M_i φ(q_i) / (φ(q_i) · z_i) with a second state
z_i = z_{i-1} + φ(k_i); it would add ``"z": (*batch, d_k)`` to the state and a ``normalize`` flag (see the marked
places below). The delta rule of Schlag et al. is a different model and belongs in its own module.

Papers: A. Katharopoulos, A. Vyas, N. Pappas, F. Fleuret, "Transformers are RNNs: Fast Autoregressive Transformers
with Linear Attention", ICML 2020 (arXiv 2006.16236), §3.2-3.4; I. Schlag, K. Irie, J. Schmidhuber, "Linear
Transformers Are Secretly Fast Weight Programmers", ICML 2021 (arXiv 2102.11174).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch

from reference.kernels import chunked_linear_attention, scan_flops
from reference.registry import ModelSpec, State, check_sequences, register, stack_states

FeatureMap = Callable[[torch.Tensor], torch.Tensor]


def _phi(x: torch.Tensor, feature_map: FeatureMap | None) -> torch.Tensor:
    """φ(x); ``None`` is the identity (the registry entry and the exercises use it)."""
    return x if feature_map is None else feature_map(x)


def _key_width(K: torch.Tensor, feature_map: FeatureMap | None) -> int:
    """d_k of the state: the width of φ(k), which a feature map may change (e.g. DPFP widens it)."""
    return K.shape[-1] if feature_map is None else feature_map(K[..., :1, :]).shape[-1]


def fast_weight_init(
    d: int,
    *,
    batch: Sequence[int] = (),
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    d_v: int | None = None,
) -> State:
    """M_{-1} = 0, a ``(*batch, d_v, d)`` matrix; ``d_v`` defaults to ``d``."""
    d_v = d if d_v is None else d_v
    # normalize=True would add "z": torch.zeros((*batch, d)) here
    return {"M": torch.zeros((*batch, d_v, d), dtype=dtype, device=device)}  # (*batch, d_v, d_k)


def fast_weight_step(
    mem: State, k: torch.Tensor, v: torch.Tensor, *, feature_map: FeatureMap | None = None
) -> State:
    """M_i from M_{i-1} and the pair (k_i, v_i). Pure; broadcasts over leading batch dims."""
    dtype = torch.promote_types(mem["M"].dtype, torch.promote_types(k.dtype, v.dtype))
    phi_k = _phi(k.to(dtype), feature_map)  # (*batch, d_k)
    # M_i = M_{i-1} + v_i φ(k_i)ᵀ
    M = mem["M"] + torch.einsum("...v,...k->...vk", v.to(dtype), phi_k)  # (*batch, d_v, d_k)
    # normalize=True would add z_i = z_{i-1} + φ(k_i) here
    return {"M": M}


def fast_weight_read(mem: State, q: torch.Tensor, *, feature_map: FeatureMap | None = None) -> torch.Tensor:
    """y = M φ(q), unnormalised; ``q: (*batch, d_k)`` -> ``(*batch, d_v)``."""
    dtype = torch.promote_types(mem["M"].dtype, q.dtype)
    phi_q = _phi(q.to(dtype), feature_map)  # (*batch, d_k)
    # y = M φ(q)   (normalize=True would divide by φ(q) · z)
    return torch.einsum("...vk,...k->...v", mem["M"].to(dtype), phi_q)  # (*batch, d_v)


def fast_weight_scan(K: torch.Tensor, V: torch.Tensor, *, feature_map: FeatureMap | None = None) -> State:
    """The specification: ``step`` over t = 0..T-1. ``K: (*batch, T, D_k)``, ``V: (*batch, T, D_v)``."""
    dtype = check_sequences(K, V)
    *batch, T, _ = K.shape
    mem = fast_weight_init(
        _key_width(K, feature_map), batch=batch, dtype=dtype, device=K.device, d_v=V.shape[-1]
    )
    states: list[State] = []
    for t in range(T):
        mem = fast_weight_step(mem, K[..., t, :], V[..., t, :], feature_map=feature_map)  # (*batch, D_v, D_k)
        states.append(mem)
    return stack_states(states, mem, axis=len(batch))  # M: (*batch, T, D_v, D_k)


def fast_weight_parallel(K: torch.Tensor, V: torch.Tensor, *, feature_map: FeatureMap | None = None) -> State:
    """Same as ``scan`` without the loop: a prefix sum of the outer products (every state, so O(T d^2) memory)."""
    dtype = check_sequences(K, V)
    phi_k = _phi(K.to(dtype), feature_map)  # (*batch, T, D_k)
    # v_j φ(k_j)ᵀ for every j
    outer = torch.einsum("...tv,...tk->...tvk", V.to(dtype), phi_k)  # (*batch, T, D_v, D_k)
    # M_i = Σ_{j<=i} v_j φ(k_j)ᵀ
    return {"M": outer.cumsum(dim=-3)}  # (*batch, T, D_v, D_k)


def fast_weight_attend_scan(
    Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, *, feature_map: FeatureMap | None = None
) -> torch.Tensor:
    """Causal read-outs y_i = M_i φ(q_i) for every i, by the loop (write, then read). Returns ``(*batch, T, D_v)``."""
    dtype = torch.promote_types(check_sequences(K, V), check_sequences(Q, V))
    *batch, T, _ = K.shape
    mem = fast_weight_init(
        _key_width(K, feature_map), batch=batch, dtype=dtype, device=K.device, d_v=V.shape[-1]
    )
    ys: list[torch.Tensor] = []
    for t in range(T):
        mem = fast_weight_step(mem, K[..., t, :], V[..., t, :], feature_map=feature_map)  # (*batch, D_v, D_k)
        ys.append(fast_weight_read(mem, Q[..., t, :], feature_map=feature_map))  # (*batch, D_v)
    if not ys:
        return V.to(dtype).clone()  # (*batch, 0, D_v)
    return torch.stack(ys, dim=-2)  # (*batch, T, D_v)


def fast_weight_attend_parallel(
    Q: torch.Tensor,
    K: torch.Tensor,
    V: torch.Tensor,
    *,
    feature_map: FeatureMap | None = None,
    chunk: int = 64,
) -> torch.Tensor:
    """Causal read-outs Y = tril(φ(Q) φ(K)ᵀ) V computed in chunks, never forming the T × T matrix.

    Chunk c carries M before it as one prefix-summed (d_k, d_v) state; inside the chunk a small causal quadratic
    form adds the pairs up to i (``reference.kernels.chunked_linear_attention``). Returns ``(*batch, T, D_v)``.
    """
    dtype = torch.promote_types(check_sequences(K, V), check_sequences(Q, V))
    phi_q = _phi(Q.to(dtype), feature_map)  # (*batch, T, D_k)
    phi_k = _phi(K.to(dtype), feature_map)  # (*batch, T, D_k)
    return chunked_linear_attention(phi_q, phi_k, V.to(dtype), chunk=chunk)  # (*batch, T, D_v)


def fast_weight_attend_quadratic(
    Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, *, feature_map: FeatureMap | None = None
) -> torch.Tensor:
    """The masked quadratic form Y = tril(φ(Q) φ(K)ᵀ) V, O(T^2) memory: the readable version of the chunked one."""
    dtype = torch.promote_types(check_sequences(K, V), check_sequences(Q, V))
    T = K.shape[-2]
    phi_q = _phi(Q.to(dtype), feature_map)  # (*batch, T, D_k)
    phi_k = _phi(K.to(dtype), feature_map)  # (*batch, T, D_k)
    # A_ij = φ(q_i) · φ(k_j), no softmax and no 1/√d
    A = torch.einsum("...id,...jd->...ij", phi_q, phi_k)  # (*batch, T, T)
    # keep j <= i only: token i sees itself and the past
    causal = torch.ones(T, T, dtype=torch.bool, device=K.device).tril()  # (T, T)
    A = A.masked_fill(~causal, 0.0)  # (*batch, T, T)
    # y_i = Σ_{j<=i} A_ij v_j
    return A @ V.to(dtype)  # (*batch, T, D_v)


def _attend_cost(T: int, d: int, hp: Mapping[str, int | float]) -> tuple[float, float]:
    """Chunked form, chunk C = 64: φQφKᵀ and A·V inside chunks (2·2·T·C·d), φKᵀV per chunk and φQ·S (2·2·T·d²),
    and the prefix sum of the T/C chunk states (``prefix_sum``, ``reference.kernels.scan_flops`` on (T/C, d²))."""
    C = 64
    flops = 4.0 * T * C * d + 4.0 * T * d * d + scan_flops(T / C, d * d)
    return flops, 4.0 * 4 * T * d  # read Q, K, V and write Y once, float32


SPEC = register(
    ModelSpec(
        id="fast-weight",
        title="Fast weights (linear attention, sum rule)",
        hyperparams={},
        state_layout={"M": ("d", "d")},
        fixed_size=True,
        cost_per_step="O(d^2)",
        cost_total="O(n d^2)",
        init=fast_weight_init,
        step=fast_weight_step,
        read=fast_weight_read,
        scan=fast_weight_scan,
        parallel=fast_weight_parallel,
        attend_parallel=fast_weight_attend_parallel,
        parallel_form="chunked linear attention",
        parallel_cost=_attend_cost,
        paper="Katharopoulos et al. 2020; Schlag et al. 2021",
    )
)
