r"""Linear attention with a normaliser (Katharopoulos et al.): a matrix memory read like a softmax.

Idea: replace the softmax weight exp(q · k) by a kernel φ(q) · φ(k) with a positive feature map φ. The numerator
Σ_j v_j (φ(k_j) · φ(q)) regroups as (Σ_j v_j φ(k_j)ᵀ) φ(q), a d_v × d_k matrix M times φ(q); the denominator
Σ_j φ(k_j) · φ(q) regroups as z · φ(q) with z = Σ_j φ(k_j). So the memory is the pair (M, z), of fixed size, and
the read-out is a weighted average of the values whose weights are positive and sum to one, as in softmax
attention. ``reference.fast_weight`` is the same memory without z (the unnormalised sum rule, φ = identity).

Recurrence (0-based positions, φ(x) = elu(x) + 1 > 0 by default):

    M_{-1} = 0,   z_{-1} = 0,
    M_i = M_{i-1} + v_i φ(k_i)ᵀ,      z_i = z_{i-1} + φ(k_i),
    y_i = M_i φ(q_i) / (φ(q_i) · z_i) = Σ_{j<=i} v_j (φ(k_j) · φ(q_i)) / Σ_{j<=i} φ(k_j) · φ(q_i).

The write comes before the read, so token i sees its own pair, and the first read is exactly v_0 whatever q_0 is
(one term on top and the same term below). The book writes the state as S = φ(k) vᵀ (d_k × d_v); M here is its
transpose, as in ``fast_weight``.

Edge cases: reading Mem_{-1} (z = 0, nothing written) would be 0/0, so ``read`` returns 0 for an empty memory
(``attend_parallel`` never reads one: every read follows a write). With φ = elu + 1 the denominator is positive once
anything was written; an identity or ReLU map can make it zero or negative for real inputs, which is why the paper
insists on a positive φ (``eps`` adds a constant below the fraction for such maps; default 0, the exact formula).

Shapes: state ``{"M": (*batch, d_v, d_k), "z": (*batch, d_k)}`` where d_k is the width of φ(k) (equal to d for
elu + 1); ``scan``/``parallel`` take ``K, V: (B, H, T, D)`` and return ``M: (B, H, T, D_v, D_k)``,
``z: (B, H, T, D_k)``; ``attend_parallel`` returns the read-outs ``(B, H, T, D_v)``.

Cost: O(d^2) per step, O(n d^2) in total, O(d^2) memory; the chunked parallel read-out costs O(n (C + d) d).

Paper: A. Katharopoulos, A. Vyas, N. Pappas, F. Fleuret, "Transformers are RNNs: Fast Autoregressive Transformers
with Linear Attention", ICML 2020 (arXiv 2006.16236), §3.2-3.4; the book's "recurrent network as cache" (Xiao & Zhu,
ch. 2).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch

from reference.kernels import chunked_linear_attention, scan_flops
from reference.registry import ModelSpec, State, check_sequences, register, stack_states

FeatureMap = Callable[[torch.Tensor], torch.Tensor]


def elu_plus_one(x: torch.Tensor) -> torch.Tensor:
    """φ(x) = elu(x) + 1: x + 1 for x > 0, exp(x) for x <= 0; always positive.

    Computed as exp(min(x, 0)) + max(x, 0), which is the same function (exp(0) = 1 for x > 0; max(x, 0) = 0 for
    x <= 0), in four vectorised passes: ``F.elu`` runs about 3× slower than ``exp`` on this CPU.
    """
    return x.clamp(max=0.0).exp_().add_(x.clamp(min=0.0))


def _phi(x: torch.Tensor, feature_map: FeatureMap | None) -> torch.Tensor:
    """φ(x); ``None`` is the paper's elu + 1 (the registry entry uses it)."""
    return elu_plus_one(x) if feature_map is None else feature_map(x)


def linear_attention_init(
    d: int,
    *,
    batch: Sequence[int] = (),
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    d_v: int | None = None,
    feature_map: FeatureMap | None = None,
) -> State:
    """Mem_{-1}: M = 0 ``(*batch, d_v, d_k)`` and z = 0 ``(*batch, d_k)``; d_k = width of φ on a d-vector."""
    batch = tuple(batch)
    d_k = _phi(torch.zeros(1, d, dtype=dtype, device=device), feature_map).shape[-1]
    d_v = d if d_v is None else d_v
    return {
        "M": torch.zeros((*batch, d_v, d_k), dtype=dtype, device=device),  # (*batch, d_v, d_k)
        "z": torch.zeros((*batch, d_k), dtype=dtype, device=device),  # (*batch, d_k)
    }


def linear_attention_step(
    mem: State, k: torch.Tensor, v: torch.Tensor, *, feature_map: FeatureMap | None = None
) -> State:
    """Mem_i from Mem_{i-1} and the pair (k_i, v_i). Pure; broadcasts over leading batch dims."""
    dtype = torch.promote_types(mem["M"].dtype, torch.promote_types(k.dtype, v.dtype))
    phi_k = _phi(k.to(dtype), feature_map)  # (*batch, d_k)
    # M_i = M_{i-1} + v_i φ(k_i)ᵀ
    M = mem["M"] + torch.einsum("...v,...k->...vk", v.to(dtype), phi_k)  # (*batch, d_v, d_k)
    # z_i = z_{i-1} + φ(k_i)
    z = mem["z"] + phi_k  # (*batch, d_k)
    return {"M": M, "z": z.expand(M.shape[:-2] + z.shape[-1:]).contiguous()}


def linear_attention_read(
    mem: State, q: torch.Tensor, *, feature_map: FeatureMap | None = None, eps: float = 0.0
) -> torch.Tensor:
    """y = M φ(q) / (φ(q) · z + eps); the empty memory (z = 0) reads as 0. ``q: (*batch, d)`` -> ``(*batch, d_v)``."""
    dtype = torch.promote_types(mem["M"].dtype, q.dtype)
    phi_q = _phi(q.to(dtype), feature_map)  # (*batch, d_k)
    # numerator M φ(q) = Σ_j v_j (φ(k_j) · φ(q))
    num = (mem["M"].to(dtype) @ phi_q.unsqueeze(-1)).squeeze(-1)  # (*batch, d_v)
    # denominator φ(q) · z = Σ_j φ(k_j) · φ(q)
    den = (phi_q * mem["z"].to(dtype)).sum(dim=-1, keepdim=True) + eps  # (*batch, 1)
    written = (mem["z"] != 0).any(dim=-1, keepdim=True)  # (*batch, 1): Mem_{-1} would be 0/0
    return torch.where(written, num / den, 0.0)  # (*batch, d_v)


def linear_attention_scan(
    K: torch.Tensor, V: torch.Tensor, *, feature_map: FeatureMap | None = None
) -> State:
    """The specification: ``step`` over t = 0..T-1. ``K: (*batch, T, D)``, ``V: (*batch, T, D_v)``."""
    dtype = check_sequences(K, V)
    *batch, T, D = K.shape
    mem = linear_attention_init(
        D, batch=batch, dtype=dtype, device=K.device, d_v=V.shape[-1], feature_map=feature_map
    )
    states: list[State] = []
    for t in range(T):
        mem = linear_attention_step(mem, K[..., t, :], V[..., t, :], feature_map=feature_map)
        states.append(mem)
    return stack_states(states, mem, axis=len(batch))  # M: (*batch, T, D_v, D_k), z: (*batch, T, D_k)


def linear_attention_parallel(
    K: torch.Tensor, V: torch.Tensor, *, feature_map: FeatureMap | None = None
) -> State:
    """Same as ``scan`` without the loop: prefix sums of the outer products and of φ(K) (O(T d^2) memory)."""
    dtype = check_sequences(K, V)
    phi_k = _phi(K.to(dtype), feature_map)  # (*batch, T, D_k)
    # v_j φ(k_j)ᵀ for every j
    outer = torch.einsum("...tv,...tk->...tvk", V.to(dtype), phi_k)  # (*batch, T, D_v, D_k)
    # M_i = Σ_{j<=i} v_j φ(k_j)ᵀ,  z_i = Σ_{j<=i} φ(k_j)
    return {"M": outer.cumsum(dim=-3), "z": phi_k.cumsum(dim=-2)}  # (*batch, T, D_v, D_k), (*batch, T, D_k)


def linear_attention_attend_parallel(
    Q: torch.Tensor,
    K: torch.Tensor,
    V: torch.Tensor,
    *,
    feature_map: FeatureMap | None = None,
    eps: float = 0.0,
    chunk: int = 64,
) -> torch.Tensor:
    """Every read-out y_i = Σ_{j<=i} v_j (φk_j · φq_i) / Σ_{j<=i} φk_j · φq_i, in chunks (never T × T).

    Chunk c carries (M, z) before it as prefix-summed states; inside the chunk a small causal quadratic form adds
    the pairs up to i (``reference.kernels.chunked_linear_attention`` with ``normalize=True``). ``(*batch, T, D_v)``.
    """
    dtype = torch.promote_types(check_sequences(K, V), check_sequences(Q, V))
    phi_q = _phi(Q.to(dtype), feature_map)  # (*batch, T, D_k)
    phi_k = _phi(K.to(dtype), feature_map)  # (*batch, T, D_k)
    return chunked_linear_attention(phi_q, phi_k, V.to(dtype), chunk=chunk, normalize=True, eps=eps)


def _attend_cost(T: int, d: int, hp: Mapping[str, int | float]) -> tuple[float, float]:
    """Chunk C = 64: φQφKᵀ and A·V inside chunks (2·2·T·C·d), φKᵀV and φQ·S (2·2·T·d²), the prefix sum of the
    T/C chunk states (``reference.kernels.scan_flops`` on (T/C, d²)), z and A's row sums."""
    C = 64
    flops = 4.0 * T * C * d + 4.0 * T * d * d + scan_flops(T / C, d * d) + 4.0 * T * d + 2.0 * T * C
    return flops, 4.0 * 4 * T * d  # read Q, K, V and write Y once, float32


SPEC = register(
    ModelSpec(
        id="linear-attention",
        title="Linear attention (normalised, φ = elu + 1)",
        hyperparams={},
        state_layout={"M": ("d", "d"), "z": ("d",)},
        fixed_size=True,
        cost_per_step="O(d^2)",
        cost_total="O(n d^2)",
        init=linear_attention_init,
        step=linear_attention_step,
        read=linear_attention_read,
        scan=linear_attention_scan,
        parallel=linear_attention_parallel,
        attend_parallel=linear_attention_attend_parallel,
        parallel_form="chunked linear attention (normalised)",
        parallel_cost=_attend_cost,
        paper="Katharopoulos et al. 2020",
    )
)
