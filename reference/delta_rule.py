r"""Delta rule: a fast-weight memory that corrects what it returns instead of adding to it.

Idea: the sum rule of linear attention (``reference.fast_weight``) adds v kᵀ for every pair, so writing a second
value to the same key returns the sum of both. The delta rule first asks the memory what it holds for the key,
v̄ = W k, and writes only the error v − v̄, scaled by a step size β. With β = 1 and a unit key the memory then holds
exactly the newest value for that key: one step of least squares on ½‖W k − v‖² (the LMS / Widrow-Hoff rule).

Recurrence (φ(x) = x / ‖x‖ normalises keys and queries, φ(0) = 0; ``normalize_keys=False`` makes φ the identity):

    W_{-1} = 0,   v̄_i = W_{i-1} φ(k_i),   W_i = W_{i-1} + β (v_i − v̄_i) φ(k_i)ᵀ,   y_i = W_i φ(q_i).

The read comes after the write. Equivalently W_i = W_{i-1} (I − β φ(k_i)φ(k_i)ᵀ) + β v_i φ(k_i)ᵀ: for β in [0, 1]
and unit keys the bracket has eigenvalues 1 and 1 − β, so the old memory is never amplified (‖W_i‖ ≤ ‖W_{i-1}‖ +
β‖v_i‖) and W_i φ(k_i) = (1 − β) W_{i-1} φ(k_i) + β v_i. Unnormalised keys make the step β‖k‖², and the error along
k is multiplied by 1 − β‖k‖² at every write: it diverges once β‖k‖² passes 2.

Chunked form (Yang et al. 2024, the "WY/UT transform"), exact in arithmetic. Inside a chunk of C tokens that starts
from the state S, unroll: W_t = S + Σ_{j<=t} δ_j kⱼᵀ with δ_j = β (v_j − W_{j-1} k_j). Writing out
W_{j-1} k_j = S k_j + Σ_{i<j} δ_i (k_i · k_j) gives the unit lower-triangular system (I + A) Δ = β (V − K Sᵀ) with
A = tril(β K Kᵀ, −1). With T_c = (I + A)⁻¹ β, the pseudo-keys 𝒲 = T_c K and pseudo-values U = T_c V do not depend
on S, so one batched triangular solve serves every chunk; then Δ = U − 𝒲 Sᵀ, the read-outs are
Y = Q Sᵀ + (Q Kᵀ ⊙ causal) Δ, and the next chunk starts from S + Δᵀ K. Only that last line is sequential; written
as Sᵀ ← (I − Kᵀ𝒲) Sᵀ + Kᵀ U, it is a loop over T/C chunks of one small matmul-add. (The code inverts I + A (``unit_lower_inverse``) and then multiplies: on a CPU,
many small solves with 2d right-hand sides are slower than C × C inverses and batched matmuls.)

Shapes: state ``{"W": (*batch, d_v, d_k)}``; ``step`` takes ``k: (*batch, d_k)``, ``v: (*batch, d_v)``; ``read``
takes ``q: (*batch, d_k)``; ``scan``/``parallel`` return ``{"W": (*batch, T, d_v, d_k)}``; ``attend_parallel``
returns ``(*batch, T, d_v)``.

Cost: O(d²) per step, O(n d²) in total, O(d²) memory; the chunked form does O(n (C d + C² + d²)) work in
O(n/C) sequential steps.

Papers: I. Schlag, K. Irie, J. Schmidhuber, "Linear Transformers Are Secretly Fast Weight Programmers", ICML 2021
(arXiv 2102.11174), §4.2; S. Yang, B. Wang, Y. Zhang, Y. Shen, Y. Kim, "Parallelizing Linear Transformers with the
Delta Rule over Sequence Length", NeurIPS 2024 (arXiv 2406.06484), §3.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

from reference.kernels import query_blocks
from reference.registry import HyperParam, ModelSpec, State, check_sequences, register, stack_states

CHUNK = 64  # tokens per chunk in the parallel forms (tuned at T = 65536, d = 64, float32 on 2 CPU cores)
# blocks up to this size are inverted by a triangular solve (8 and 16 were as fast, 32 slower)
INVERSE_BASE = 16


def _phi(x: torch.Tensor, normalize: bool) -> torch.Tensor:
    """φ(x) = x / ‖x‖ over the last axis, with φ(0) = 0; the identity when ``normalize`` is False."""
    if not normalize:
        return x
    norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)  # (*batch, 1)
    return x / torch.where(norm > 0, norm, torch.ones_like(norm))  # (*batch, d)


def delta_rule_init(
    d: int,
    *,
    batch: Sequence[int] = (),
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    d_v: int | None = None,
    beta: float = 0.5,
    normalize_keys: bool = True,
) -> State:
    """W_{-1} = 0, a ``(*batch, d_v, d)`` matrix; ``d_v`` defaults to ``d``."""
    del beta, normalize_keys
    d_v = d if d_v is None else d_v
    return {"W": torch.zeros((*tuple(batch), d_v, d), dtype=dtype, device=device)}  # (*batch, d_v, d_k)


def delta_rule_step(
    mem: State, k: torch.Tensor, v: torch.Tensor, *, beta: float = 0.5, normalize_keys: bool = True
) -> State:
    """W_i from W_{i-1} and the pair (k_i, v_i). Pure; broadcasts over leading batch dims."""
    dtype = torch.promote_types(mem["W"].dtype, torch.promote_types(k.dtype, v.dtype))
    W = mem["W"].to(dtype)  # (*batch, d_v, d_k)
    phi_k = _phi(k.to(dtype), normalize_keys)  # (*batch, d_k)
    # v̄_i = W_{i-1} φ(k_i): what the memory returns for this key before the write
    recalled = torch.einsum("...vk,...k->...v", W, phi_k)  # (*batch, d_v)
    # W_i = W_{i-1} + β (v_i − v̄_i) φ(k_i)ᵀ
    W = W + beta * torch.einsum("...v,...k->...vk", v.to(dtype) - recalled, phi_k)  # (*batch, d_v, d_k)
    return {"W": W}


def delta_rule_read(
    mem: State, q: torch.Tensor, *, beta: float = 0.5, normalize_keys: bool = True
) -> torch.Tensor:
    """y = W φ(q) (the query is normalised like the keys); ``q: (*batch, d_k)`` -> ``(*batch, d_v)``."""
    del beta
    dtype = torch.promote_types(mem["W"].dtype, q.dtype)
    phi_q = _phi(q.to(dtype), normalize_keys)  # (*batch, d_k)
    # y = W φ(q)
    return torch.einsum("...vk,...k->...v", mem["W"].to(dtype), phi_q)  # (*batch, d_v)


def delta_rule_scan(
    K: torch.Tensor, V: torch.Tensor, *, beta: float = 0.5, normalize_keys: bool = True
) -> State:
    """The specification: ``step`` over t = 0..T-1. ``K: (*batch, T, D_k)``, ``V: (*batch, T, D_v)``."""
    dtype = check_sequences(K, V)
    *batch, T, D = K.shape
    mem = delta_rule_init(D, batch=batch, dtype=dtype, device=K.device, d_v=V.shape[-1])
    states: list[State] = []
    for t in range(T):
        mem = delta_rule_step(mem, K[..., t, :], V[..., t, :], beta=beta, normalize_keys=normalize_keys)
        states.append(mem)  # W: (*batch, D_v, D_k)
    return stack_states(states, mem, axis=len(batch))  # W: (*batch, T, D_v, D_k)


def unit_lower_inverse(A: torch.Tensor, *, base: int = INVERSE_BASE) -> torch.Tensor:
    """(I + tril(A, −1))⁻¹ for a batch of square matrices ``(*batch, n, n)``; only A's part below the diagonal is read.

    By halves: L = [[L₁₁, 0], [L₂₁, L₂₂]] has L⁻¹ = [[L₁₁⁻¹, 0], [−L₂₂⁻¹ L₂₁ L₁₁⁻¹, L₂₂⁻¹]], and the two diagonal
    halves of every matrix are inverted together, as one batch twice as long, down to ``base`` × ``base`` blocks
    that a triangular solve against I inverts. At n = 64 over 1024 matrices that took 8 ms where one solve against
    I took 12.7 ms (2-core AMD EPYC VM): LAPACK solves each matrix on its own, while the halves' products are batched
    matmuls. Exact in arithmetic; the same forward substitution in another order.
    """
    n = A.shape[-1]
    if n <= base:
        eye = torch.eye(n, dtype=A.dtype, device=A.device).expand_as(A)  # (*batch, n, n)
        inverse: torch.Tensor = torch.linalg.solve_triangular(A, eye, upper=False, unitriangular=True)
        return inverse
    h = n // 2
    if n % 2 == 0:  # both halves in one batch
        X11, X22 = unit_lower_inverse(torch.stack([A[..., :h, :h], A[..., h:, h:]]), base=base).unbind(0)
    else:
        X11, X22 = (
            unit_lower_inverse(A[..., :h, :h], base=base),
            unit_lower_inverse(A[..., h:, h:], base=base),
        )
    X = A.new_zeros(A.shape)  # (*batch, n, n)
    X[..., :h, :h], X[..., h:, h:] = X11, X22
    X[..., h:, :h] = (X22 @ (A[..., h:, :h] @ X11)).neg_()  # −L₂₂⁻¹ L₂₁ L₁₁⁻¹ (L₂₁ = A's lower-left block)
    return X


def _chunks(
    phi_K: torch.Tensor, V: torch.Tensor, beta: float, chunk: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The chunked delta rule: (keys in chunks, Wᵀ before every chunk, the corrections Δ of every chunk).

    ``phi_K: (*batch, T, D_k)``, ``V: (*batch, T, D_v)`` -> ``k: (*batch, nc, C, D_k)``, ``Wᵀ: (*batch, nc, D_k,
    D_v)``, ``Δ: (*batch, nc, C, D_v)``. Padding adds zero keys, which write nothing.
    """
    k = query_blocks(phi_K, block=chunk)  # (*batch, nc, C, D_k)
    v = query_blocks(V, block=chunk)  # (*batch, nc, C, D_v)
    *batch, nc, C, D_k = k.shape
    B, D_v = math.prod(batch), v.shape[-1]
    # A = tril(β K Kᵀ, −1) and (I + A)⁻¹: a unit lower-triangular solve against I, all chunks at once (the solve
    # reads only the part below the diagonal, so β K Kᵀ needs no masking)
    A = (k @ k.transpose(-1, -2)).mul_(beta)  # (*batch, nc, C, C): A below its diagonal
    inverse = unit_lower_inverse(A)  # (*batch, nc, C, C): (I + A)⁻¹
    # 𝒲 = (I + A)⁻¹ β K and U = (I + A)⁻¹ β V, batch flattened to one axis for the batched matmuls below
    inverse.mul_(beta)  # (I + A)⁻¹ β
    pseudo_k = (inverse @ k).reshape(B * nc, C, D_k)  # 𝒲: (B·nc, C, D_k)
    pseudo_v = (inverse @ v).reshape(B * nc, C, D_v)  # U: (B·nc, C, D_v)
    kT = k.reshape(B * nc, C, D_k).transpose(-1, -2)  # (B·nc, D_k, C)
    # From chunk to chunk the state is affine in the state before: Wᵀ ← Wᵀ + K_cᵀ (U_c − 𝒲_c Wᵀ) = M_c Wᵀ + N_c
    # with M_c = I − K_cᵀ 𝒲_c and N_c = K_cᵀ U_c, all computed at once, so that the sequential loop is one small
    # in-place matmul-add per chunk (two per chunk, with the corrections inside the loop, took three times as long)
    M = torch.bmm(kT, pseudo_k).neg_()  # (B·nc, D_k, D_k): −K_cᵀ 𝒲_c ...
    M.diagonal(dim1=-2, dim2=-1).add_(1.0)  # ... + I
    Wt = k.new_empty((B, nc + 1, D_k, D_v))  # Wᵀ before chunk c at [:, c]
    Wt[:, 0] = 0.0  # before the first chunk
    # N_c = K_cᵀ U_c written where Wᵀ after chunk c goes; the loop then adds M_c Wᵀ_c to it in place
    torch.matmul(kT.reshape(B, nc, D_k, C), pseudo_v.reshape(B, nc, C, D_v), out=Wt[:, 1:])
    states, Ms = Wt.unbind(1), M.reshape(B, nc, D_k, D_k).unbind(1)  # views, (B, ·, ·) each
    for c in range(nc - 1):  # the state after the last chunk is never read
        states[c + 1].baddbmm_(Ms[c], states[c])  # Wᵀ_{c+1} = N_c + M_c Wᵀ_c
    Wt_before = Wt[:, :nc].reshape(B * nc, D_k, D_v)  # (B·nc, D_k, D_v)
    # Δ_c = U_c − 𝒲_c Wᵀ_c: the errors δ_j = β (v_j − W_{j-1} k_j) of every chunk, at once, in U's place
    deltas = pseudo_v.baddbmm_(pseudo_k, Wt_before, alpha=-1.0)  # (B·nc, C, D_v)
    return k, Wt_before.reshape(*batch, nc, D_k, D_v), deltas.reshape(*batch, nc, C, D_v)


def delta_rule_parallel(
    K: torch.Tensor, V: torch.Tensor, *, beta: float = 0.5, normalize_keys: bool = True, chunk: int = CHUNK
) -> State:
    """Every state by the chunked form: W_t = W_c + Σ_{j<=t in chunk c} δ_j kⱼᵀ, a cumsum inside each chunk."""
    dtype = check_sequences(K, V)
    T = K.shape[-2]
    if T == 0:
        return delta_rule_scan(K, V, beta=beta, normalize_keys=normalize_keys)  # W: (*batch, 0, D_v, D_k)
    k, Wt, delta = _chunks(_phi(K.to(dtype), normalize_keys), V.to(dtype), beta, chunk)
    # W_t = W_c + Σ_{j<=t in c} δ_j kⱼᵀ
    outer = torch.einsum("...cjv,...cjk->...cjvk", delta, k).cumsum(dim=-3)  # (*batch, nc, C, D_v, D_k)
    W = Wt.transpose(-1, -2).unsqueeze(-3) + outer  # (*batch, nc, C, D_v, D_k)
    return {"W": W.flatten(-4, -3)[..., :T, :, :]}  # (*batch, T, D_v, D_k)


def delta_rule_attend_parallel(
    Q: torch.Tensor,
    K: torch.Tensor,
    V: torch.Tensor,
    *,
    beta: float = 0.5,
    normalize_keys: bool = True,
    chunk: int = CHUNK,
) -> torch.Tensor:
    """Every read-out y_i = W_i φ(q_i) by the chunked form, never forming a T × T matrix. ``(*batch, T, D_v)``."""
    dtype = torch.promote_types(check_sequences(K, V), check_sequences(Q, V))
    T = K.shape[-2]
    if T == 0:
        return V.to(dtype).clone()  # (*batch, 0, D_v)
    k, Wt, delta = _chunks(_phi(K.to(dtype), normalize_keys), V.to(dtype), beta, chunk)
    q = query_blocks(_phi(Q.to(dtype), normalize_keys), block=chunk)  # (*batch, nc, C, D_k)
    causal = torch.ones(chunk, chunk, dtype=torch.bool, device=q.device).tril()  # (C, C)
    # y_t = W_c φ(q_t) + Σ_{j<=t in c} δ_j (k_j · φ(q_t)):  Y = Q W_cᵀ + (Q Kᵀ ⊙ causal) Δ
    scores = (q @ k.transpose(-1, -2)).masked_fill_(~causal, 0.0)  # (*batch, nc, C, C)
    out = q @ Wt  # (*batch, nc, C, D_v)
    flat = (-1, *out.shape[-2:])  # batch and chunks on one axis: the second term is added in place
    out.reshape(flat).baddbmm_(scores.reshape(-1, chunk, chunk), delta.reshape(-1, *delta.shape[-2:]))
    return out.flatten(-3, -2)[..., :T, :]  # (*batch, T, D_v)


def _attend_cost(T: int, d: int, hp: Mapping[str, int | float]) -> tuple[float, float]:
    """Per chunk: K Kᵀ, Q Kᵀ, scores·Δ (3 · 2C²d); (I + A)⁻¹ by a solve against I (C³); (I + A)⁻¹ K and (I + A)⁻¹ V
    (2 · 2C²d); M = I − Kᵀ𝒲, N = KᵀU, Δ = U − 𝒲Wᵀ and Q Wᵀ (4 · 2Cd²); the loop's M Wᵀ (2d³). Padding of the last
    chunk is counted: it is computed."""
    C = CHUNK
    n_chunks = -(-T // C)
    flops = n_chunks * (10.0 * C * C * d + 1.0 * C**3 + 8.0 * C * d * d + 2.0 * d**3)
    return flops, 4.0 * 4 * T * d  # read Q, K, V and write Y once, float32


SPEC = register(
    ModelSpec(
        id="delta-rule",
        title="Delta rule (fast weights that correct their error)",
        hyperparams={"beta": HyperParam("float", 0.0, 1.0, 0.5)},
        state_layout={"W": ("d", "d")},
        fixed_size=True,
        cost_per_step="O(d^2)",
        cost_total="O(n d^2)",
        init=delta_rule_init,
        step=delta_rule_step,
        read=delta_rule_read,
        scan=delta_rule_scan,
        parallel=delta_rule_parallel,
        attend_parallel=delta_rule_attend_parallel,
        parallel_form="chunked delta rule (WY/UT transform)",
        parallel_cost=_attend_cost,
        paper="Schlag et al. 2021; Yang et al. 2024",
    )
)
