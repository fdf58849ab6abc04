r"""Attention sinks (StreamingLLM): the first few tokens forever, plus a window of recent ones.

Idea: a plain window cache breaks down once the first tokens of the stream are evicted, because trained models park
surplus attention on those early tokens (the weights must sum to 1 and the first tokens are visible to every later
query): they act as "attention sinks". StreamingLLM keeps the keys and values of the first n_sink tokens for good,
plus the n_recent most recent tokens, and evicts the middle. Nothing is evicted while fewer than n_sink + n_recent
tokens have been seen.

Recurrence (0-based token index i; S = n_sink, W = n_recent):

    Mem_i = (pairs 0..min(i, S-1)) ∪ (pairs max(S, i-W+1)..i),   i.e. sinks fill first, then a FIFO of W recent pairs,
    y_i = softmax_j( rope(q_i, p_q) · rope(k_j, p_j) / √d ) v_j   over the valid cached pairs j.

Positions are assigned WITHIN THE CACHE (paper §3.2): keys are cached before rotary encoding, and at read time the
sinks get positions 0..S-1, the recent pairs the next positions in order, and the query the position of the newest
cached pair, p_q = n - 1 (n = cached pairs). With S = 4, W = 3, after token 8 the cache holds text positions
[0, 1, 2, 3, 6, 7, 8] and uses positions 0..6. Rotating by the original text positions instead is the classic bug:
the distance from the query to a sink would keep growing past anything the model saw in training.

State ``{"sink_k": (*batch, S, d), "sink_v": (*batch, S, d_v), "k": (*batch, W, d), "v": (*batch, W, d_v),
"n": (*batch,)}``. Token i < S is written into sink slot i; later tokens shift into the recent FIFO, which is
right-aligned like the window cache (oldest first, newest in row W-1, unfilled front rows still zero). ``n`` counts
the valid cached pairs, n_i = min(i + 1, S + W) (it saturates, so float32 stays exact on endless streams); recent
row j sits at cache position n - W + j and is valid iff that is >= S. Reading Mem_{-1} (n = 0) is undefined.

RoPE here: rotate-half convention, base 10000, on the first 2⌊d/2⌋ dims (an odd last dim is left as it is); the
angles p·θ are formed in float64 (and reduced mod 2π for float32), so large positions stay accurate in float32.

Parallel read-out: a RoPE score depends only on p_q - p_k, and inside the recent part the cache distances equal the
text distances, so the recent part is banded attention with ORIGINAL positions over keys
max(S, i-W+1) <= j <= i. The sinks are extra keys in the same softmax, scored with the query rotated at its cache
position min(i, S+W-1) and sink s at s (hidden while s > i); these T × S scores ride along as S extra query
coordinates (see ``attention_sinks_attend_parallel``) so that one fused kernel, ``reference.kernels.band_attention``,
does both parts.

Note on order [own analysis]: here the step evicts before the read, so every query sees at most S + W pairs
including itself. The reference code (mit-han-lab/streaming-llm, ``StartRecentKVCache``) runs the model on the new
token over the cache and trims the cache afterwards, so its token sees S + W cached pairs plus itself, at position
S + W ("the next token gets 7" in the example above); it equals this model with n_recent one larger.

Cost: O((S+W)·d) per step (re-rotating the cached keys included), O(n·(S+W)·d) in total, O((S+W)·d) memory.

Source: G. Xiao, Y. Tian, B. Chen, S. Han, M. Lewis, "Efficient Streaming Language Models with Attention Sinks",
ICLR 2024, arXiv 2309.17453; RoPE: J. Su et al., "RoFormer", arXiv 2104.09864.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

from reference.kernels import band_attention, band_block
from reference.registry import (
    HyperParam,
    ModelSpec,
    State,
    batch_shape,
    check_sequences,
    register,
    stack_states,
)


def _rope_angles(pos: torch.Tensor, d: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of p·θ_k, θ_k = 10000^(-2k/2h) for k < h = ⌊d/2⌋: ``pos: (...)`` -> two ``(..., h)``.

    p·θ is formed in float64 and, below float64, reduced mod 2π before the float32 cos/sin: accurate at large
    positions without float64 transcendentals (slow, unvectorised on CPU).
    """
    h = d // 2
    theta = 10000.0 ** (
        -2.0 * torch.arange(h, dtype=torch.float64, device=pos.device) / max(2 * h, 1)
    )  # (h,)
    angle = pos.to(torch.float64).unsqueeze(-1) * theta  # (..., h)
    if dtype != torch.float64:
        angle = torch.remainder(angle, 2 * math.pi).float()  # (..., h) in [0, 2π)
    return angle.cos().to(dtype), angle.sin().to(dtype)


def _rotate(
    x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, out: torch.Tensor | None = None
) -> torch.Tensor:
    """Rotate-half RoPE of ``x: (..., d)``: (x_k, x_{k+h}) -> (x_k cos - x_{k+h} sin, x_{k+h} cos + x_k sin).

    ``cos, sin: (..., h)`` broadcast against ``x``; an odd last dim (d = 2h + 1) is left as it is. Written into
    ``out`` (``x``'s shape; a view of a wider buffer is fine) when given, else into a new tensor.
    """
    h = cos.shape[-1]
    x1, x2 = x[..., :h], x[..., h : 2 * h]
    if out is None:
        lead = batch_shape(x.shape[:-1], cos.shape[:-1])
        out = x.new_empty((*lead, x.shape[-1]))
    r1, r2 = out[..., :h], out[..., h : 2 * h]  # (..., h) each, views of out
    torch.mul(x1, cos, out=r1).addcmul_(x2, sin, value=-1.0)  # x_k cos − x_{k+h} sin
    torch.mul(x2, cos, out=r2).addcmul_(x1, sin)  # x_{k+h} cos + x_k sin
    out[..., 2 * h :] = x[..., 2 * h :]
    return out  # (..., d)


@functools.lru_cache(maxsize=4)
def _rope_table(
    T: int, d: int, dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin at the positions 0..T-1, ``(T, ⌊d/2⌋)`` each, kept for the next call with the same T, d, dtype
    and device (as rotary layers keep their tables): the float64 angle reduction is the slow part of RoPE.
    Read-only: callers never write into them."""
    return _rope_angles(torch.arange(T, device=device), d, dtype)


def _rope(x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Rotary encoding of ``x: (..., d)`` at positions ``pos`` (broadcastable to ``x.shape[:-1]``)."""
    return _rotate(x, *_rope_angles(pos, x.shape[-1], x.dtype))  # (..., d)


def attention_sinks_init(
    d: int,
    *,
    batch: Sequence[int] = (),
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    d_v: int | None = None,
    n_sink: int = 2,
    n_recent: int = 4,
) -> State:
    """Mem_{-1}: empty sink and recent slots (all zero), n = 0. ``d_v`` defaults to ``d``."""
    batch, d_v = tuple(batch), d if d_v is None else d_v
    return {
        "sink_k": torch.zeros((*batch, n_sink, d), dtype=dtype, device=device),  # (*batch, S, d)
        "sink_v": torch.zeros((*batch, n_sink, d_v), dtype=dtype, device=device),  # (*batch, S, d_v)
        "k": torch.zeros((*batch, n_recent, d), dtype=dtype, device=device),  # (*batch, W, d)
        "v": torch.zeros((*batch, n_recent, d_v), dtype=dtype, device=device),  # (*batch, W, d_v)
        "n": torch.zeros(batch, dtype=dtype, device=device),  # (*batch,)
    }


def attention_sinks_step(
    mem: State, k: torch.Tensor, v: torch.Tensor, *, n_sink: int = 2, n_recent: int = 4
) -> State:
    """Mem_i: token i fills sink slot i while i < S, else shifts into the recent FIFO. Pure; broadcasts."""
    dtype = torch.promote_types(mem["k"].dtype, torch.promote_types(k.dtype, v.dtype))
    batch = batch_shape(mem["k"].shape[:-2], k.shape[:-1], v.shape[:-1])
    n = mem["n"].to(dtype).expand(batch)  # (*batch,) pairs cached before this one
    new: State = {}
    for key_name, sink_name, x in (("k", "sink_k", k), ("v", "sink_v", v)):
        x = x.to(dtype).expand(*batch, x.shape[-1]).unsqueeze(-2)  # (*batch, 1, d)
        sinks = mem[sink_name].to(dtype).expand(*batch, n_sink, x.shape[-1])  # (*batch, S, d)
        recent = mem[key_name].to(dtype).expand(*batch, n_recent, x.shape[-1])  # (*batch, W, d)
        # sink slot s takes the pair iff s = n (only while n < S)
        write = torch.arange(n_sink, device=n.device) == n.unsqueeze(-1)  # (*batch, S)
        new[sink_name] = torch.where(write.unsqueeze(-1), x, sinks)  # (*batch, S, d)
        # once the sinks are full (n >= S): recent = cat(recent[1:], x), the oldest recent pair falls out
        shifted = torch.cat([recent[..., 1:, :], x], dim=-2)  # (*batch, W, d)
        new[key_name] = torch.where((n >= n_sink)[..., None, None], shifted, recent)  # (*batch, W, d)
    # n_i = min(n_{i-1} + 1, S + W)
    new["n"] = torch.clamp(n + 1, max=n_sink + n_recent).contiguous()  # (*batch,)
    return new


def attention_sinks_read(mem: State, q: torch.Tensor, *, n_sink: int = 2, n_recent: int = 4) -> torch.Tensor:
    """Softmax attention with RoPE at cache positions over sinks + recent; ``q: (*batch, d)`` -> ``(*batch, d_v)``."""
    dtype = torch.promote_types(mem["k"].dtype, q.dtype)
    n = mem["n"].to(dtype).unsqueeze(-1)  # (*batch, 1)
    # cache positions: sink s at s (valid iff s < n); recent row j at n - W + j (valid iff >= S)
    sink_pos = torch.arange(n_sink, device=q.device, dtype=dtype).expand(*n.shape[:-1], n_sink)  # (*batch, S)
    recent_pos = n - n_recent + torch.arange(n_recent, device=q.device, dtype=dtype)  # (*batch, W)
    pos = torch.cat([sink_pos, recent_pos], dim=-1)  # (*batch, S+W)
    valid = torch.cat([sink_pos < n, recent_pos >= n_sink], dim=-1)  # (*batch, S+W)
    keys = torch.cat([mem["sink_k"], mem["k"]], dim=-2).to(dtype)  # (*batch, S+W, d)
    values = torch.cat([mem["sink_v"], mem["v"]], dim=-2).to(dtype)  # (*batch, S+W, d_v)
    # s_j = rope(q, n-1) · rope(k_j, p_j) / √d: the query sits at the newest cached position
    q_rot = _rope(q.to(dtype), n.squeeze(-1) - 1)  # (*batch, d)
    scores = (_rope(keys, pos) @ q_rot.unsqueeze(-1)).squeeze(-1) / q.shape[-1] ** 0.5  # (*batch, S+W)
    scores = scores.masked_fill(~valid, float("-inf"))  # (*batch, S+W)
    # y = Σ_j softmax(s)_j v_j
    weights = torch.softmax(scores, dim=-1)  # (*batch, S+W)
    return (weights.unsqueeze(-2) @ values).squeeze(-2)  # (*batch, d_v)


def attention_sinks_scan(K: torch.Tensor, V: torch.Tensor, *, n_sink: int = 2, n_recent: int = 4) -> State:
    """The specification: ``step`` over t = 0..T-1, states stacked on the time axis."""
    dtype = check_sequences(K, V)
    *batch, T, D = K.shape
    hp = {"n_sink": n_sink, "n_recent": n_recent}
    mem = attention_sinks_init(D, batch=batch, dtype=dtype, device=K.device, d_v=V.shape[-1], **hp)
    states: list[State] = []
    for t in range(T):
        mem = attention_sinks_step(mem, K[..., t, :], V[..., t, :], **hp)  # k: (*batch, W, D)
        states.append(mem)
    return stack_states(states, mem, axis=len(batch))  # k: (*batch, T, W, D), n: (*batch, T)


def attention_sinks_parallel(
    K: torch.Tensor, V: torch.Tensor, *, n_sink: int = 2, n_recent: int = 4
) -> State:
    """Every state without a loop: sinks are the first S rows once seen; recent rows are a window of tokens >= S."""
    dtype = check_sequences(K, V)
    *batch, T, D = K.shape
    if T == 0:
        empty = attention_sinks_init(
            D, batch=batch, dtype=dtype, device=K.device, d_v=V.shape[-1], n_sink=n_sink, n_recent=n_recent
        )
        return stack_states([], empty, axis=len(batch))
    t = torch.arange(T, device=K.device)[:, None]  # (T, 1)
    seen = torch.arange(n_sink, device=K.device) <= t  # (T, S): sink s is filled once t >= s
    token = t - n_recent + 1 + torch.arange(n_recent, device=K.device)  # (T, W): the token recent row j holds
    zero = torch.zeros((), dtype=dtype, device=K.device)
    out: State = {}
    for key_name, sink_name, X in (("k", "sink_k", K.to(dtype)), ("v", "sink_v", V.to(dtype))):
        first = F.pad(X[..., :n_sink, :], (0, 0, 0, n_sink - min(T, n_sink)))  # (*batch, S, d)
        out[sink_name] = torch.where(seen[..., None], first.unsqueeze(-3), zero)  # (*batch, T, S, d)
        windows = (
            F.pad(X, (0, 0, n_recent - 1, 0)).unfold(-2, n_recent, 1).transpose(-1, -2)
        )  # (*batch, T, W, d)
        out[key_name] = torch.where((token >= n_sink)[..., None], windows, zero)  # (*batch, T, W, d)
    # n_t = min(t + 1, S + W)
    n = (t[:, 0] + 1).clamp(max=n_sink + n_recent).to(dtype)  # (T,)
    out["n"] = n.expand(*batch, T).contiguous()  # (*batch, T)
    return out


def attention_sinks_attend_parallel(
    Q: torch.Tensor,
    K: torch.Tensor,
    V: torch.Tensor,
    *,
    n_sink: int = 2,
    n_recent: int = 4,
    block: int | None = None,
) -> torch.Tensor:
    """Every read-out: banded RoPE attention (original positions) plus the sinks as extra keys, never T × T.

    A band key and a sink need the query rotated at two different positions (i and min(i, S+W-1)). So the S sink
    scores σ_is = rope(q_i, min(i, S+W-1)) · rope(k_s, s) are computed first (a T × S matrix) and ride along as S
    extra query coordinates: q̃_i = [rope(q_i, i), σ_i], band keys k̃_j = [rope(k_j, j), 0], sink keys
    k̃_s = [0, e_s] (one-hot). Then q̃_i · k̃ is the right score for either kind, and one fused softmax kernel does
    the rest (``reference.kernels.band_attention``, which hides sink s while s > i). ``block`` (queries per block)
    defaults to ``band_block(n_recent)``. Returns ``(*batch, T, D_v)``.
    """
    dtype = torch.promote_types(check_sequences(K, V), check_sequences(Q, V))
    T, D = Q.shape[-2], Q.shape[-1]
    if T == 0:
        return V.to(dtype).clone()  # (*batch, 0, D_v)
    Qd, Kd, Vd = Q.to(dtype), K.to(dtype), V.to(dtype)
    block = band_block(n_recent) if block is None else block
    S, pad = n_sink, n_sink - min(T, n_sink)  # sinks beyond T are zero rows, hidden because s > i
    cos, sin = _rope_table(T, D, dtype, Q.device)  # (T, ⌊D/2⌋) each, at the text positions i
    # q̃ = [rope(q, i), σ] and k̃_j = [rope(k_j, j), 0], rotated straight into their (*batch, T, D+S) buffers
    Q2 = Qd.new_empty((*Qd.shape[:-1], D + S))
    K2 = Kd.new_empty((*Kd.shape[:-1], D + S))
    Q_rot = _rotate(
        Qd, cos, sin, out=Q2[..., :D]
    )  # band: text positions, whose distances equal the cache ones
    _rotate(Kd, cos, sin, out=K2[..., :D])
    K2[..., D:] = 0.0
    # sinks: σ_is = rope(q_i, min(i, P)) · rope(k_s, s), unscaled, P = S+W-1 the newest cache position;
    # for i < P that is rope(q_i, i) · rope(k_s, s), for i >= P it is q_i · rope(k_s, s - P) (RoPE is relative)
    P = min(n_sink + n_recent - 1, T)
    sink_k = F.pad(K2[..., :S, :D], (0, 0, 0, pad))  # (*batch, S, D)
    sinks_at_P = torch.arange(min(S, T), device=Q.device) - (n_sink + n_recent - 1)  # s - P
    sink_k_at_P = F.pad(_rope(Kd[..., :S, :], sinks_at_P), (0, 0, 0, pad))  # (*batch, S, D)
    Q2[..., :P, D:] = Q_rot[..., :P, :] @ sink_k.transpose(-1, -2)  # (*batch, P, S)
    Q2[..., P:, D:] = Qd[..., P:, :] @ sink_k_at_P.transpose(-1, -2)  # (*batch, T - P, S)
    one_hot = torch.eye(S, dtype=dtype, device=Q.device).expand(*sink_k.shape[:-1], S)  # (*batch, S, S)
    sink_k2 = torch.cat([torch.zeros_like(sink_k), one_hot], dim=-1)  # (*batch, S, D+S): k̃_s = [0, e_s]
    sink_v = F.pad(Vd[..., :S, :], (0, 0, 0, pad))  # (*batch, S, D_v)
    # y_i = softmax over {max(S, i-W+1) <= j <= i} ∪ {sinks s <= i}, scale 1/√D
    return band_attention(
        Q2, K2, Vd, width=n_recent, block=block, start=S, extra_k=sink_k2, extra_v=sink_v, scale=D**-0.5
    )  # (*batch, T, D_v)


def _attend_cost(T: int, d: int, hp: Mapping[str, int | float]) -> tuple[float, float]:
    """Per query (m+1)·(S + block) keys, m = ⌈(W-1)/block⌉ (band, sinks and their masked copies, blocking
    waste), Q̃ K̃ᵀ and A Ṽ at width d + S (V is padded with zeros to the query width for the fused kernel), plus
    the two T × S sink-score products; RoPE is O(T d)."""
    n_sink, n_recent = int(hp.get("n_sink", 2)), int(hp.get("n_recent", 4))
    block = band_block(n_recent)
    keys = (-(-(n_recent - 1) // block) + 1) * (n_sink + block)
    flops = 2.0 * 2.0 * T * keys * (d + n_sink) + 2.0 * 2.0 * T * n_sink * d
    return flops, 4.0 * 4 * T * d  # read Q, K, V and write Y once, float32


SPEC = register(
    ModelSpec(
        id="attention-sinks",
        title="Attention sinks (StreamingLLM)",
        hyperparams={
            "n_sink": HyperParam("int", 1, 64, 2),
            "n_recent": HyperParam("int", 1, 8192, 4),
        },
        state_layout={
            "sink_k": ("n_sink", "d"),
            "sink_v": ("n_sink", "d"),
            "k": ("n_recent", "d"),
            "v": ("n_recent", "d"),
            "n": (),
        },
        fixed_size=True,
        cost_per_step="O((n_sink + n_recent) d)",
        cost_total="O(n (n_sink + n_recent) d)",
        init=attention_sinks_init,
        step=attention_sinks_step,
        read=attention_sinks_read,
        scan=attention_sinks_scan,
        parallel=attention_sinks_parallel,
        attend_parallel=attention_sinks_attend_parallel,
        parallel_form="blocked window attention with sink keys",
        parallel_cost=_attend_cost,
        paper="Xiao et al. 2024",
    )
)
