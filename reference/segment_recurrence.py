r"""Segment-level recurrence: a FIFO memory of whole segments (Transformer-XL's cache).

Idea: cut the stream into segments of L tokens. Attention runs over the current segment (causally) plus a memory of
the m previous segments; when a segment is complete it is pushed into the memory and the oldest segment falls out.
The update works on whole segments, not tokens: in the book's notation Mem = FIFO(S_kv, Mem_pre), where S_kv is the
segment just completed. With m = 1 this is the "two-segment memory" (previous + current) of Transformer-XL, which
caches the previous segment's hidden states with a stop-gradient and attends over [SG(mem); current].

Token-level form of the same memory (what ``step`` does for token i, 0-based):

    if the current segment is full (pos = L):  Mem = FIFO(cur, Mem_pre) (drop the oldest, append cur), pos = 0;
    cur[pos] = (k_i, v_i),  pos = pos + 1.

So token i sees the m complete segments before its own, s = ⌊i/L⌋, plus the tokens of segment s up to i:
positions j <= i with ⌊j/L⌋ >= s - m (fewer at the start: the first segment has an empty memory). The read-out is one
softmax over those keys, scale 1/√d. The last segment may be shorter than L when T is not a multiple of L.

State (after the batch dims): ``mem_k, mem_v: (m, L, d)`` (segments oldest first, right-aligned: the last ``mem_n``
segments are valid, the rest are zero), ``cur_k, cur_v: (L, d)`` (filled left to right, the first ``pos`` rows are
valid, the rest are zero), ``mem_n: ()`` (valid segments, <= m) and ``pos: ()`` (tokens in the current segment),
counters in the state's float dtype. The push happens lazily, at the first token of the next segment, so a full
current segment is still read raw by its own last token.

Cost: O((m + 1) L d) per step (the read), O(n (m + 1) L d) in total, O((m + 1) L d) memory. The parallel read-out is
blocked attention with blocks aligned to segments and a lookback of m·L keys.

Papers: Z. Dai, Z. Yang, Y. Yang, J. Carbonell, Q. Le, R. Salakhutdinov, "Transformer-XL: Attentive Language Models
Beyond a Fixed-Length Context", ACL 2019 (arXiv 1901.02860), §3.2; Xiao & Zhu, "Foundations of Large Language
Models", ch. 2 (segment-level recurrence, FIFO memory).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from reference.kernels import gather_rows, key_blocks, n_blocks, query_blocks
from reference.registry import (
    HyperParam,
    ModelSpec,
    State,
    batch_shape,
    check_sequences,
    register,
    stack_states,
)


def fifo_update(
    mem_k: torch.Tensor, mem_v: torch.Tensor, seg_k: torch.Tensor, seg_v: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mem = FIFO(S_kv, Mem_pre): append the segment at the end, drop the oldest; the capacity m stays.

    ``mem_k: (*batch, m, L, d)``, ``seg_k: (*batch, L, d)`` (same for v) -> new ``(*batch, m, L, d)``.
    """
    m = mem_k.shape[-3]
    # [Mem_pre; S_kv] has m + 1 segments; keep the newest m
    new_k = torch.cat([mem_k, seg_k.unsqueeze(-3)], dim=-3).narrow(-3, 1, m)  # (*batch, m, L, d)
    new_v = torch.cat([mem_v, seg_v.unsqueeze(-3)], dim=-3).narrow(-3, 1, m)  # (*batch, m, L, d_v)
    return new_k, new_v


def segment_recurrence_init(
    d: int,
    *,
    batch: Sequence[int] = (),
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    d_v: int | None = None,
    L: int = 4,
    m: int = 1,
) -> State:
    """Mem_{-1}: an empty segment memory and an empty current segment, all zeros."""
    batch = tuple(batch)
    d_v = d if d_v is None else d_v

    def zeros(*shape: int) -> torch.Tensor:
        return torch.zeros((*batch, *shape), dtype=dtype, device=device)

    return {
        "mem_k": zeros(m, L, d),  # (*batch, m, L, d)
        "mem_v": zeros(m, L, d_v),  # (*batch, m, L, d_v)
        "cur_k": zeros(L, d),  # (*batch, L, d)
        "cur_v": zeros(L, d_v),  # (*batch, L, d_v)
        "mem_n": zeros(),  # (*batch,): valid segments in memory
        "pos": zeros(),  # (*batch,): tokens in the current segment
    }


def segment_recurrence_step(mem: State, k: torch.Tensor, v: torch.Tensor, *, L: int = 4, m: int = 1) -> State:
    """Mem_i from Mem_{i-1} and (k_i, v_i): push a full segment into the FIFO first, then write the token."""
    dtype = torch.promote_types(mem["cur_k"].dtype, torch.promote_types(k.dtype, v.dtype))
    batch = batch_shape(mem["pos"].shape, k.shape[:-1], v.shape[:-1])
    mk, mv = (mem[n].to(dtype).expand(*batch, *mem[n].shape[-3:]) for n in ("mem_k", "mem_v"))
    ck, cv = (mem[n].to(dtype).expand(*batch, *mem[n].shape[-2:]) for n in ("cur_k", "cur_v"))
    pos, mem_n = mem["pos"].to(dtype).expand(batch), mem["mem_n"].to(dtype).expand(batch)
    full = pos == L  # (*batch,): the current segment is complete, so this token starts a new one
    # Mem = FIFO(S_kv, Mem_pre) where the segment is full; unchanged elsewhere
    pushed_k, pushed_v = fifo_update(mk, mv, ck, cv)  # (*batch, m, L, d)
    mk = torch.where(full[..., None, None, None], pushed_k, mk)  # (*batch, m, L, d)
    mv = torch.where(full[..., None, None, None], pushed_v, mv)  # (*batch, m, L, d_v)
    mem_n = torch.where(full, (mem_n + 1).clamp(max=m), mem_n)  # (*batch,)
    # a new segment starts empty
    ck = torch.where(full[..., None, None], 0.0, ck)  # (*batch, L, d)
    cv = torch.where(full[..., None, None], 0.0, cv)  # (*batch, L, d_v)
    pos = torch.where(full, 0.0, pos)  # (*batch,)
    # cur[pos] = (k_i, v_i)
    slot = torch.arange(L, device=pos.device) == pos[..., None]  # (*batch, L)
    ck = torch.where(slot[..., None], k.to(dtype).unsqueeze(-2), ck)  # (*batch, L, d)
    cv = torch.where(slot[..., None], v.to(dtype).unsqueeze(-2), cv)  # (*batch, L, d_v)
    return {"mem_k": mk, "mem_v": mv, "cur_k": ck, "cur_v": cv, "mem_n": mem_n, "pos": pos + 1}


def segment_recurrence_read(mem: State, q: torch.Tensor, *, L: int = 4, m: int = 1) -> torch.Tensor:
    """softmax(q Kᵀ/√d) V over the valid memory segments and cur[:pos]; ``q: (*batch, d)`` -> ``(*batch, d_v)``.

    Reading Mem_{-1} (nothing visible) returns zeros.
    """
    dtype = torch.promote_types(mem["cur_k"].dtype, q.dtype)
    # the keys and values in memory order: m·L memory rows, then L current rows
    keys = torch.cat([mem["mem_k"].flatten(-3, -2), mem["cur_k"]], dim=-2)  # (*batch, (m+1)L, d)
    values = torch.cat([mem["mem_v"].flatten(-3, -2), mem["cur_v"]], dim=-2)  # (*batch, (m+1)L, d_v)
    # memory row r belongs to segment r // L, valid if among the last mem_n; current row r valid if r < pos
    row = torch.arange((m + 1) * L, device=q.device)  # ((m+1)L,)
    seg_ok = (row < m * L) & (row // L >= m - mem["mem_n"][..., None])  # (*batch, (m+1)L)
    valid = seg_ok | ((row >= m * L) & (row - m * L < mem["pos"][..., None]))  # (*batch, (m+1)L)
    # s_j = q · k_j / √d, -inf where hidden
    scale = q.shape[-1] ** -0.5
    scores = (keys.to(dtype) @ q.to(dtype).unsqueeze(-1)).squeeze(-1) * scale  # (*batch, (m+1)L)
    weights = torch.softmax(scores.masked_fill(~valid, float("-inf")), dim=-1)  # (*batch, (m+1)L)
    weights = torch.where(valid.any(dim=-1, keepdim=True), weights, 0.0)  # nothing visible -> zero weights
    return (weights.unsqueeze(-2) @ values.to(dtype)).squeeze(-2)  # (*batch, d_v)


def segment_recurrence_scan(K: torch.Tensor, V: torch.Tensor, *, L: int = 4, m: int = 1) -> State:
    """The specification: ``step`` over t = 0..T-1. ``K: (*batch, T, D)``, ``V: (*batch, T, D_v)``."""
    dtype = check_sequences(K, V)
    *batch, T, D = K.shape
    mem = segment_recurrence_init(D, batch=batch, dtype=dtype, device=K.device, d_v=V.shape[-1], L=L, m=m)
    states: list[State] = []
    for t in range(T):
        mem = segment_recurrence_step(mem, K[..., t, :], V[..., t, :], L=L, m=m)
        states.append(mem)
    return stack_states(states, mem, axis=len(batch))  # mem_k: (*batch, T, m, L, D), pos: (*batch, T)


def segment_recurrence_parallel(K: torch.Tensor, V: torch.Tensor, *, L: int = 4, m: int = 1) -> State:
    """Every state by gathering: after token t (segment s = ⌊t/L⌋) memory slot r holds segment s - m + r."""
    dtype = check_sequences(K, V)
    K, V = K.to(dtype), V.to(dtype)
    *batch, T, _ = K.shape
    t = torch.arange(T, device=K.device)  # (T,)
    s = t // L  # (T,) the segment of token t
    # memory: slot r, row l holds position (s - m + r)·L + l, zero when that segment is before the stream
    seg = s[:, None] - m + torch.arange(m, device=K.device)  # (T, m)
    mpos = seg[:, :, None] * L + torch.arange(L, device=K.device)  # (T, m, L)
    # current segment: row l holds position s·L + l if it is <= t
    cpos = s[:, None] * L + torch.arange(L, device=K.device)  # (T, L)
    mem_ok, cur_ok = seg[:, :, None] >= 0, cpos <= t[:, None]  # (T, m, 1), (T, L)
    mem_ok = mem_ok.expand(-1, -1, L)  # (T, m, L)
    return {
        "mem_k": gather_rows(K, mpos, mem_ok),  # (*batch, T, m, L, D)
        "mem_v": gather_rows(V, mpos, mem_ok),  # (*batch, T, m, L, D_v)
        "cur_k": gather_rows(K, cpos, cur_ok),  # (*batch, T, L, D)
        "cur_v": gather_rows(V, cpos, cur_ok),  # (*batch, T, L, D_v)
        "mem_n": s.clamp(max=m).to(dtype).expand(*batch, T).contiguous(),  # (*batch, T)
        "pos": (t - s * L + 1).to(dtype).expand(*batch, T).contiguous(),  # (*batch, T)
    }


def _block(L: int, target: int = 128) -> int:
    """A query block of whole segments, about ``target`` positions."""
    return L * max(1, round(target / L))


def segment_recurrence_attend_parallel(
    Q: torch.Tensor,
    K: torch.Tensor,
    V: torch.Tensor,
    *,
    L: int = 4,
    m: int = 1,
    block: int | None = None,
) -> torch.Tensor:
    """Every read-out by blocked attention: query i sees keys j <= i with ⌊j/L⌋ >= ⌊i/L⌋ - m.

    Query blocks hold whole segments (``block`` must be a multiple of L; default about 128 positions) and score the
    keys from m·L before the block's start (``key_blocks``). Blocks start at segment starts, so the rule is the same
    for every block in positions relative to that start: one (block, block + m·L) mask serves all of them, and only
    the keys before the stream (zero padding in the first blocks) need hiding per block. Blocks go through in
    groups of about 1024 queries, so the score matrix stays in cache. Returns ``(*batch, T, D_v)``.
    """
    dtype = torch.promote_types(check_sequences(K, V), check_sequences(Q, V))
    T, D = Q.shape[-2], Q.shape[-1]
    block = _block(L) if block is None else block
    if block % L:
        raise ValueError(f"block={block} must be a multiple of the segment length L={L}")
    if T == 0:
        return V.to(dtype).clone()  # (*batch, 0, D_v)
    nb, lookback = n_blocks(T, block), m * L
    q = query_blocks(Q.to(dtype), block=block) * D**-0.5  # (*batch, nb, block, D), scaled by 1/√d once
    keys = key_blocks(K.to(dtype), block=block, lookback=lookback)  # (*batch, nb, W, D), W = block + m·L
    values = key_blocks(V.to(dtype), block=block, lookback=lookback)  # (*batch, nb, W, D_v)
    # positions relative to the block's start: query r, key r' (negative: the m segments before the block)
    r = torch.arange(block, device=Q.device)[:, None]  # (block, 1)
    key_r = torch.arange(block + lookback, device=Q.device) - lookback  # (W,)
    # causal, and the key's segment is the query's or one of the m before it
    visible = (key_r <= r) & (key_r.div(L, rounding_mode="floor") >= r // L - m)  # (block, W)
    # keys before position 0 are zero padding, in the first blocks only: hidden there. As additive masks (0 or
    # -inf), built for blocks 0..first; every later block shares block `first`'s
    first = min(nb - 1, -(-lookback // block))
    exists = torch.arange(first + 1, device=Q.device)[:, None, None] * block + key_r >= 0  # (first + 1, 1, W)
    ok = visible & exists  # (first + 1, block, W)
    mask = torch.zeros(ok.shape, dtype=dtype, device=Q.device).masked_fill_(~ok, float("-inf"))
    out = V.new_empty((*V.shape[:-2], nb, block, V.shape[-1]), dtype=dtype)  # (*batch, nb, block, D_v)
    group = max(1, 1024 // block)  # query blocks per pass: the scores (1 MiB at W = 256) stay in cache
    for start in range(0, nb, group):  # O(T / 4096) iterations of vectorised work
        blocks = slice(start, min(start + group, nb))
        # s = q · k / √d, -inf where hidden (each block's own mask up to `first`, then the shared one)
        scores = q[..., blocks, :, :] @ keys[..., blocks, :, :].transpose(-1, -2)  # (*batch, G, block, W)
        rows = torch.arange(start, blocks.stop, device=Q.device).clamp(max=first)
        scores.add_(mask[first] if start >= first else mask[rows])
        out[..., blocks, :, :] = torch.softmax(scores, dim=-1) @ values[..., blocks, :, :]
    return out.flatten(-3, -2)[..., :T, :]  # (*batch, T, D_v)


def _attend_cost(T: int, d: int, hp: Mapping[str, int | float]) -> tuple[float, float]:
    """Blocked: every query block scores block + m·L keys (QKᵀ and weights·V: 2·2·T·W·d), masked or not."""
    L, m = int(hp.get("L", 4)), int(hp.get("m", 1))
    W = _block(L) + m * L
    return 4.0 * T * W * d, 4.0 * 4 * T * d  # read Q, K, V and write Y once, float32


SPEC = register(
    ModelSpec(
        id="segment-recurrence",
        title="Segment-level recurrence (FIFO of segments, Transformer-XL)",
        hyperparams={"L": HyperParam("int", 1, 4096, 4), "m": HyperParam("int", 1, 64, 1)},
        state_layout={
            "mem_k": ("m", "L", "d"),
            "mem_v": ("m", "L", "d"),
            "cur_k": ("L", "d"),
            "cur_v": ("L", "d"),
            "mem_n": (),
            "pos": (),
        },
        fixed_size=True,
        cost_per_step="O((m+1) L d)",
        cost_total="O(n (m+1) L d)",
        init=segment_recurrence_init,
        step=segment_recurrence_step,
        read=segment_recurrence_read,
        scan=segment_recurrence_scan,
        parallel=segment_recurrence_parallel,
        attend_parallel=segment_recurrence_attend_parallel,
        parallel_form="blocked attention over segments",
        parallel_cost=_attend_cost,
        paper="Dai et al. 2019",
    )
)
