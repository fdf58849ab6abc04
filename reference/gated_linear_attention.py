r"""Gated (decayed) linear attention: the fast-weight matrix memory with a forgetting factor γ (RetNet style).

Idea: the sum rule of ``reference.fast_weight`` never forgets, so an old pair keeps its full weight forever and
the matrix fills up with interference. Scale the whole matrix by a fixed γ ∈ (0, 1] before each write and a pair
written j steps ago weighs γ^j: the forgetting of the exponential moving average, applied to a d_v × d_k matrix
instead of to one averaged key and value. γ = 1 is exactly the sum rule (fast weights); with d = d_v = 1 the
state is one number, an EMA-like running sum of k_i v_i whose new term enters with weight 1 instead of α.
RetNet (Sun et al. 2023) uses a fixed γ per head; gated variants such as GLA (Yang et al. 2024) make the decay
a per-step, data-dependent gate. This module keeps the fixed scalar γ.

Recurrence (0-based positions, M_{-1} = 0; write, then read, so token i sees its own pair):

    M_i = γ M_{i−1} + v_i k_iᵀ,      y_i = M_i q_i = Σ_{j<=i} γ^{i−j} (q_i · k_j) v_j.

Parallel form (masked quadratic, the "retention" of RetNet): Y = ((Q Kᵀ) ⊙ D) V with the decay mask
D_ij = γ^{i−j} for j <= i and 0 above the diagonal. ``attend_parallel`` computes it in chunks of C positions, so
nothing is T × T: inside a chunk the C × C block of that mask, and from the chunks before, one carried state
S_c = γ^C S_{c−1} + Σ_r γ^{C−1−r} v_r k_rᵀ read as γ^{r+1} S_{c−1} q_r (the chunk-end states follow the same
recurrence one level up, solved by ``reference.kernels.decayed_sums``). Only non-negative powers of γ appear, so
nothing overflows; a small γ merely underflows to 0, which is the right limit.

Shapes: state ``{"M": (*batch, d_v, d_k)}`` (value down the rows, key across the columns, as in ``fast_weight``);
``step`` takes ``k: (*batch, d_k)``, ``v: (*batch, d_v)``; ``read`` takes ``q: (*batch, d_k)`` and returns
``(*batch, d_v)``; ``scan``/``parallel`` take ``K, V: (B, H, T, D)`` and return ``{"M": (B, H, T, D_v, D_k)}``;
``attend_parallel`` returns the read-outs ``(B, H, T, D_v)``.

Cost: O(d_k d_v) per step, O(n d_k d_v) in total, O(d_k d_v) memory; the chunked read-out costs O(n (C + d) d).

Papers: Y. Sun, L. Dong, S. Huang, S. Ma, Y. Xia, J. Xue, J. Wang, F. Wei, "Retentive Network: A Successor to
Transformer for Large Language Models", arXiv 2307.08621 (2023), §2.1; S. Yang, B. Wang, Y. Shen, R. Panda,
Y. Kim, "Gated Linear Attention Transformers with Hardware-Efficient Training", ICML 2024 (arXiv 2312.06635).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

from reference.kernels import decayed_sums, query_blocks, scan_flops
from reference.registry import HyperParam, ModelSpec, State, check_sequences, register, stack_states

CHUNK = 64  # positions per chunk of attend_parallel (as the fast-weight chunked form)
STATE_CHUNK = 16  # chunk of the decayed scans over states (``reference.kernels.PREFIX_CHUNK``)


def _powers(gamma: float, exponents: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """γ^e for integer e >= 0, computed in float64 (0^0 = 1), returned in ``like``'s dtype and device."""
    base = torch.tensor(gamma, dtype=torch.float64, device=like.device)
    return torch.pow(base, exponents.to(device=like.device, dtype=torch.float64)).to(like.dtype)


def gated_linear_attention_init(
    d: int,
    *,
    batch: Sequence[int] = (),
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    d_v: int | None = None,
    gamma: float = 0.9,
) -> State:
    """M_{-1} = 0, a ``(*batch, d_v, d)`` matrix; ``d_v`` defaults to ``d``."""
    del gamma
    d_v = d if d_v is None else d_v
    return {"M": torch.zeros((*tuple(batch), d_v, d), dtype=dtype, device=device)}  # (*batch, d_v, d_k)


def gated_linear_attention_step(mem: State, k: torch.Tensor, v: torch.Tensor, *, gamma: float = 0.9) -> State:
    """M_i from M_{i-1} and the pair (k_i, v_i): decay the old matrix, then write. Pure; broadcasts over batch."""
    dtype = torch.promote_types(mem["M"].dtype, torch.promote_types(k.dtype, v.dtype))
    # M_i = γ M_{i-1} + v_i k_iᵀ   (γ scales the past only, never the new pair)
    M = gamma * mem["M"].to(dtype) + torch.einsum("...v,...k->...vk", v.to(dtype), k.to(dtype))
    return {"M": M}  # (*batch, d_v, d_k)


def gated_linear_attention_read(mem: State, q: torch.Tensor, *, gamma: float = 0.9) -> torch.Tensor:
    """y = M q, unnormalised; ``q: (*batch, d_k)`` -> ``(*batch, d_v)``."""
    del gamma
    dtype = torch.promote_types(mem["M"].dtype, q.dtype)
    # y = M q = Σ_j γ^{i−j} v_j (k_j · q)
    return torch.einsum("...vk,...k->...v", mem["M"].to(dtype), q.to(dtype))  # (*batch, d_v)


def gated_linear_attention_scan(K: torch.Tensor, V: torch.Tensor, *, gamma: float = 0.9) -> State:
    """The specification: ``step`` over t = 0..T-1. ``K: (*batch, T, D_k)``, ``V: (*batch, T, D_v)``."""
    dtype = check_sequences(K, V)
    *batch, T, D = K.shape
    mem = gated_linear_attention_init(D, batch=batch, dtype=dtype, device=K.device, d_v=V.shape[-1])
    states: list[State] = []
    for t in range(T):
        mem = gated_linear_attention_step(mem, K[..., t, :], V[..., t, :], gamma=gamma)  # (*batch, D_v, D_k)
        states.append(mem)
    return stack_states(states, mem, axis=len(batch))  # M: (*batch, T, D_v, D_k)


def gated_linear_attention_parallel(
    K: torch.Tensor, V: torch.Tensor, *, gamma: float = 0.9, chunk: int = STATE_CHUNK
) -> State:
    """Every state without a loop over tokens: M_i = Σ_{j<=i} γ^{i−j} v_j k_jᵀ, a decayed prefix sum of the outer
    products (``reference.kernels.decayed_sums``, chunked). Keeps every state, so O(T d^2) memory."""
    dtype = check_sequences(K, V)
    *batch, T, D_k = K.shape
    D_v = V.shape[-1]
    # v_j k_jᵀ for every j, flattened so that time is the second-to-last axis
    outer = torch.einsum("...tv,...tk->...tvk", V.to(dtype), K.to(dtype))  # (*batch, T, D_v, D_k)
    flat = outer.reshape(*batch, T, D_v * D_k)  # (*batch, T, D_v·D_k)
    # h_i = γ h_{i−1} + x_i, h_{-1} = 0
    M = decayed_sums(flat, gamma, 1.0, chunk, overwrite=True)  # (*batch, T, D_v·D_k)
    return {"M": M.reshape(*batch, T, D_v, D_k)}  # (*batch, T, D_v, D_k)


def gated_linear_attention_attend_parallel(
    Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, *, gamma: float = 0.9, chunk: int = CHUNK
) -> torch.Tensor:
    """Every read-out y_i = Σ_{j<=i} γ^{i−j} (q_i · k_j) v_j, in chunks of ``chunk`` positions (never T × T).

    Inside chunk c: the C × C block of the decay mask, D_rs = γ^{r−s} for s <= r. From before it: the state
    S_{c−1} = Σ_{j before c} γ^{start(c)−1−j} v_j k_jᵀ, read by q_r with the extra decay γ^{r+1}. Returns
    ``(*batch, T, D_v)``.
    """
    dtype = torch.promote_types(check_sequences(K, V), check_sequences(Q, V))
    T = K.shape[-2]
    if T == 0:
        return V.to(dtype).clone()  # (*batch, 0, D_v)
    C = min(chunk, T)
    q = query_blocks(Q.to(dtype), block=C)  # (*batch, nc, C, D_k), the last chunk padded with zeros
    k = query_blocks(K.to(dtype), block=C)  # (*batch, nc, C, D_k)
    v = query_blocks(V.to(dtype), block=C)  # (*batch, nc, C, D_v)
    r = torch.arange(C, device=K.device)  # (C,)
    age = r[:, None] - r[None, :]  # (C, C): i − j inside a chunk
    # the decay mask: D_ij = γ^{i−j} for j <= i, 0 for a later token
    decay = torch.where(age >= 0, _powers(gamma, age.clamp(min=0), q), 0.0)  # (C, C)
    # within the chunk: y_i = Σ_{j<=i in c} γ^{i−j} (q_i · k_j) v_j
    out = ((q @ k.transpose(-1, -2)) * decay) @ v  # (*batch, nc, C, D_v)
    nc = q.shape[-3]
    if nc > 1:
        # each chunk's own part of the state at its end: Σ_r γ^{C−1−r} v_r k_rᵀ
        w = _powers(gamma, C - 1 - r, q)  # (C,)
        own = (v * w[:, None]).transpose(-1, -2) @ k  # (*batch, nc, D_v, D_k)
        own = own[..., :-1, :, :].flatten(-2)  # (*batch, nc − 1, D_v·D_k): the last chunk starts nobody
        # S_c = γ^C S_{c−1} + own_c: the state at the end of chunk c, hence the state before chunk c + 1
        ends = decayed_sums(own, gamma**C, 1.0, STATE_CHUNK, overwrite=True)  # (*batch, nc − 1, D_v·D_k)
        before = F.pad(ends, (0, 0, 1, 0))  # (*batch, nc, D_v·D_k): nothing before chunk 0
        before = before.reshape(*before.shape[:-1], V.shape[-1], K.shape[-1])  # (*batch, nc, D_v, D_k)
        # y_r += γ^{r+1} S_before q_r
        lift = _powers(gamma, r + 1, q)[:, None]  # (C, 1)
        out = out + (q * lift) @ before.transpose(-1, -2)  # (*batch, nc, C, D_v)
    return out.flatten(-3, -2)[..., :T, :]  # (*batch, T, D_v)


def _attend_cost(T: int, d: int, hp: Mapping[str, int | float]) -> tuple[float, float]:
    """Chunk C = 64: QKᵀ, the mask and A·V inside chunks (2·2·T·C·d + T·C), Vᵀ K per chunk and the read of the
    carried state (2·2·T·d²), and the decayed scan of the T/C chunk states (``reference.kernels.scan_flops``)."""
    C = CHUNK
    flops = 4.0 * T * C * d + T * C + 4.0 * T * d * d + scan_flops(T / C, d * d)
    return flops, 4.0 * 4 * T * d  # read Q, K, V and write Y once, float32


def _rule(hp: Mapping[str, int | float]) -> str | None:
    """γ = 0 would keep only the newest pair: the memory must remember something, so γ > 0."""
    return None if hp["gamma"] > 0 else f"gamma must be > 0 (in (0, 1]), got {hp['gamma']}"


SPEC = register(
    ModelSpec(
        id="gated-linear-attention",
        title="Gated (decayed) linear attention",
        hyperparams={"gamma": HyperParam("float", 0.0, 1.0, 0.9)},
        state_layout={"M": ("d", "d")},
        fixed_size=True,
        cost_per_step="O(d^2)",
        cost_total="O(n d^2)",
        init=gated_linear_attention_init,
        step=gated_linear_attention_step,
        read=gated_linear_attention_read,
        scan=gated_linear_attention_scan,
        parallel=gated_linear_attention_parallel,
        attend_parallel=gated_linear_attention_attend_parallel,
        parallel_form="chunked linear attention with a decay mask",
        parallel_cost=_attend_cost,
        paper="Sun et al. 2023, RetNet",
        hp_rule=_rule,
    )
)
