r"""Hybrid cache: a local window of raw pairs plus a compressed memory of older ones (Compressive Transformer).

Idea: keep the most recent pairs exactly (the local memory Mem, up to n_m pairs) and, instead of throwing away the
pairs that leave it, compress them: every c evicted pairs become one pair (their mean key and mean value), pushed into
a second FIFO, the compressed memory CMem of n_cm pairs. Recent context stays sharp, distant context survives as
coarse summaries, and the whole cache has a fixed size n_m + n_cm that covers about n_m + c·n_cm past tokens.

Update for token i (0-based), in this order (compression happens on eviction, never on arrival):

    if Mem is full (n = n_m):   evict its c oldest pairs E,  C = mean_time(E)  (one pair),
                                CMem = FIFO(C, CMem_pre)  (append C, drop CMem's oldest when it overflows);
    Mem = Mem ∪ {(k_i, v_i)}.

In the book's segment form: Mem = FIFO(S_kv, Mem_pre), the popped pairs are compressed to n_s/c pairs C_kv, and
CMem = FIFO(C_kv, CMem_pre) (``compress_and_push``). The read-out is one softmax, scale 1/√d, over [CMem; Mem].

Closed form (what ``attend_parallel`` uses): evicted groups are aligned at multiples of c. After token i, the number
of evicted groups is g(i) = ⌊(i - n_m)/c⌋ + 1 for i >= n_m (else 0); Mem holds positions g·c .. i and CMem holds the
mean-pooled groups max(0, g - n_cm) .. g - 1, group j being positions jc .. jc + c - 1. A trailing partial group (T
not a multiple of c) is still in Mem and never pooled.

State (after the batch dims): ``k, v: (n_m, d)`` local pairs oldest first, right-aligned (the last ``n`` slots are
valid, the rest zero); ``n: ()``; ``ck, cv: (n_cm, d)`` compressed pairs oldest first, right-aligned, ``cn: ()`` valid.
Needs c <= n_m (a group is evicted from a full Mem).

Cost: O((n_m + n_cm) d) per step, O(n (n_m + n_cm) d) in total, O((n_m + n_cm) d) memory.

Papers: J. W. Rae, A. Potapenko, S. M. Jayakumar, T. P. Lillicrap, "Compressive Transformers for Long-Range
Sequence Modelling", ICLR 2020 (arXiv 1911.05507), mean-pooling compression; Xiao & Zhu, ch. 2 (hybrid cache).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

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


def mean_pool(X: torch.Tensor, *, c: int) -> torch.Tensor:
    """Mean over consecutive groups of c rows on the TIME axis: ``(*batch, n, d) -> (*batch, n // c, d)``.

    A trailing partial group (n not a multiple of c) is dropped: it is not complete, so it is not pooled.
    """
    groups = X.shape[-2] // c
    head = X[..., : groups * c, :]  # (*batch, groups·c, d)
    return head.reshape(*X.shape[:-2], groups, c, X.shape[-1]).mean(dim=-2)  # (*batch, n // c, d)


def compress_and_push(
    ck: torch.Tensor, cv: torch.Tensor, evicted_k: torch.Tensor, evicted_v: torch.Tensor, *, c: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """CMem = FIFO(compress(E), CMem_pre): pool the n_s evicted pairs to n_s / c, append, drop the oldest.

    ``ck: (*batch, n_cm, d)``, ``evicted_k: (*batch, n_s, d)`` with n_s a multiple of c (same for v) -> new
    ``(*batch, n_cm, d)``. E.g. CMem [C1, C2, C3, C4] plus [C5, C6] gives [C3, C4, C5, C6].
    """
    n_s, n_cm = evicted_k.shape[-2], ck.shape[-2]  # pairs evicted, CMem capacity
    if n_s % c:
        raise ValueError(f"{n_s} evicted pairs do not split into groups of c={c}")
    # C_kv = mean over each group of c evicted pairs (time axis)
    comp_k, comp_v = mean_pool(evicted_k, c=c), mean_pool(evicted_v, c=c)  # (*batch, n_s / c, d)
    # [CMem_pre; C_kv], keep the newest n_cm
    new_k = torch.cat([ck, comp_k], dim=-2).narrow(-2, n_s // c, n_cm)  # (*batch, n_cm, d)
    new_v = torch.cat([cv, comp_v], dim=-2).narrow(-2, n_s // c, n_cm)  # (*batch, n_cm, d_v)
    return new_k, new_v


def hybrid_cache_init(
    d: int,
    *,
    batch: Sequence[int] = (),
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    d_v: int | None = None,
    n_m: int = 4,
    c: int = 2,
    n_cm: int = 2,
) -> State:
    """Mem_{-1}: empty local and compressed memories, all zeros."""
    del c
    batch = tuple(batch)
    d_v = d if d_v is None else d_v

    def zeros(*shape: int) -> torch.Tensor:
        return torch.zeros((*batch, *shape), dtype=dtype, device=device)

    return {
        "k": zeros(n_m, d),  # (*batch, n_m, d)
        "v": zeros(n_m, d_v),  # (*batch, n_m, d_v)
        "n": zeros(),  # (*batch,): valid local pairs
        "ck": zeros(n_cm, d),  # (*batch, n_cm, d)
        "cv": zeros(n_cm, d_v),  # (*batch, n_cm, d_v)
        "cn": zeros(),  # (*batch,): valid compressed pairs
    }


def hybrid_cache_step(
    mem: State, k: torch.Tensor, v: torch.Tensor, *, n_m: int = 4, c: int = 2, n_cm: int = 2
) -> State:
    """Mem_i from Mem_{i-1} and (k_i, v_i): evict → compress → push (if Mem is full), then append."""
    dtype = torch.promote_types(mem["k"].dtype, torch.promote_types(k.dtype, v.dtype))
    batch = batch_shape(mem["n"].shape, k.shape[:-1], v.shape[:-1])
    lk, lv, ck, cv = (mem[x].to(dtype).expand(*batch, *mem[x].shape[-2:]) for x in ("k", "v", "ck", "cv"))
    n, cn = mem["n"].to(dtype).expand(batch), mem["cn"].to(dtype).expand(batch)
    full = (n == n_m)[..., None, None]  # (*batch, 1, 1): this pair evicts a group
    # evict the c oldest pairs (slots 0..c-1 of a full, right-aligned Mem), pool them, push into CMem
    pushed_k, pushed_v = compress_and_push(ck, cv, lk[..., :c, :], lv[..., :c, :], c=c)  # (*batch, n_cm, d)
    ck, cv = torch.where(full, pushed_k, ck), torch.where(full, pushed_v, cv)  # (*batch, n_cm, d)
    cn = torch.where(full[..., 0, 0], (cn + 1).clamp(max=n_cm), cn)  # (*batch,)
    evicted = full & (torch.arange(n_m, device=lk.device) < c)[:, None]  # (*batch, n_m, 1)
    lk, lv = lk.masked_fill(evicted, 0.0), lv.masked_fill(evicted, 0.0)  # (*batch, n_m, d)
    n = torch.where(full[..., 0, 0], n - c, n)  # (*batch,)
    # append (k_i, v_i) at the end; slot 0 is empty here, so the shift drops nothing
    new_k, new_v = k.to(dtype).expand(*batch, -1), v.to(dtype).expand(*batch, -1)  # (*batch, d)
    lk = torch.cat([lk[..., 1:, :], new_k.unsqueeze(-2)], dim=-2)  # (*batch, n_m, d)
    lv = torch.cat([lv[..., 1:, :], new_v.unsqueeze(-2)], dim=-2)  # (*batch, n_m, d_v)
    return {"k": lk, "v": lv, "n": n + 1, "ck": ck.contiguous(), "cv": cv.contiguous(), "cn": cn.contiguous()}


def hybrid_cache_read(
    mem: State, q: torch.Tensor, *, n_m: int = 4, c: int = 2, n_cm: int = 2
) -> torch.Tensor:
    """One softmax(q Kᵀ/√d) V over [valid CMem; valid Mem]; ``q: (*batch, d)`` -> ``(*batch, d_v)``.

    Reading Mem_{-1} (nothing visible) returns zeros.
    """
    del c
    dtype = torch.promote_types(mem["k"].dtype, q.dtype)
    keys = torch.cat([mem["ck"], mem["k"]], dim=-2).to(dtype)  # (*batch, n_cm + n_m, d)
    values = torch.cat([mem["cv"], mem["v"]], dim=-2).to(dtype)  # (*batch, n_cm + n_m, d_v)
    # right-aligned: compressed slot j valid if j >= n_cm - cn, local slot j if j >= n_m - n
    slot_c, slot_l = torch.arange(n_cm, device=q.device), torch.arange(n_m, device=q.device)
    valid = torch.cat(
        [slot_c >= n_cm - mem["cn"][..., None], slot_l >= n_m - mem["n"][..., None]], dim=-1
    )  # (*batch, n_cm + n_m)
    # s_j = q · k_j / √d, -inf where empty
    scores = (keys @ q.to(dtype).unsqueeze(-1)).squeeze(-1) * q.shape[-1] ** -0.5  # (*batch, n_cm + n_m)
    weights = torch.softmax(scores.masked_fill(~valid, float("-inf")), dim=-1)  # (*batch, n_cm + n_m)
    weights = torch.where(valid.any(dim=-1, keepdim=True), weights, 0.0)  # nothing visible -> zero weights
    return (weights.unsqueeze(-2) @ values).squeeze(-2)  # (*batch, d_v)


def hybrid_cache_scan(K: torch.Tensor, V: torch.Tensor, *, n_m: int = 4, c: int = 2, n_cm: int = 2) -> State:
    """The specification: ``step`` over t = 0..T-1. ``K: (*batch, T, D)``, ``V: (*batch, T, D_v)``."""
    dtype = check_sequences(K, V)
    *batch, T, D = K.shape
    hp = {"n_m": n_m, "c": c, "n_cm": n_cm}
    mem = hybrid_cache_init(D, batch=batch, dtype=dtype, device=K.device, d_v=V.shape[-1], **hp)
    states: list[State] = []
    for t in range(T):
        mem = hybrid_cache_step(mem, K[..., t, :], V[..., t, :], **hp)
        states.append(mem)
    return stack_states(states, mem, axis=len(batch))  # k: (*batch, T, n_m, D), n: (*batch, T)


def _groups_evicted(i: torch.Tensor, *, n_m: int, c: int) -> torch.Tensor:
    """g(i) = ⌊(i - n_m)/c⌋ + 1 for i >= n_m, else 0: the groups of c evicted after token i (integer tensor)."""
    return ((i - n_m) // c + 1).clamp(min=0)


def hybrid_cache_parallel(
    K: torch.Tensor, V: torch.Tensor, *, n_m: int = 4, c: int = 2, n_cm: int = 2
) -> State:
    """Every state from the closed form, by gathering (no loop): checks g(i) against the step loop."""
    dtype = check_sequences(K, V)
    *batch, T, _ = K.shape
    t = torch.arange(T, device=K.device)[:, None]  # (T, 1)
    g = _groups_evicted(t, n_m=n_m, c=c)  # (T, 1)
    # local slot s (right-aligned) holds position t - n_m + 1 + s, valid if >= g·c
    lpos = t - n_m + 1 + torch.arange(n_m, device=K.device)  # (T, n_m)
    # compressed slot s (right-aligned) holds group g - n_cm + s, valid if >= 0
    gidx = g - n_cm + torch.arange(n_cm, device=K.device)  # (T, n_cm)
    Kd, Vd = K.to(dtype), V.to(dtype)
    local_ok, comp_ok = lpos >= g * c, gidx >= 0  # (T, n_m), (T, n_cm)
    return {
        "k": gather_rows(Kd, lpos, local_ok),  # (*batch, T, n_m, D)
        "v": gather_rows(Vd, lpos, local_ok),  # (*batch, T, n_m, D_v)
        "n": (t[:, 0] - g[:, 0] * c + 1).to(dtype).expand(*batch, T).contiguous(),  # (*batch, T)
        "ck": gather_rows(mean_pool(Kd, c=c), gidx, comp_ok),  # (*batch, T, n_cm, D)
        "cv": gather_rows(mean_pool(Vd, c=c), gidx, comp_ok),  # (*batch, T, n_cm, D_v)
        "cn": g[:, 0].clamp(max=n_cm).to(dtype).expand(*batch, T).contiguous(),  # (*batch, T)
    }


def _block(c: int, target: int = 64) -> int:
    """A query block of whole compression groups, about ``target`` positions."""
    return c * max(1, round(target / c))


def _windows(n_m: int, c: int, n_cm: int) -> tuple[int, int, int]:
    """Block b's windows: raw keys from b·block - (n_m - 1), groups from b·gb - shift - glook (gb = block / c).

    The oldest group a query of the block can see is g(b·block) - n_cm >= b·gb - ⌈n_m/c⌉ + 1 - n_cm, the newest is
    g(last query) - 1 <= (b+1)·gb - ⌊n_m/c⌋ - 1: a window of gb + glook groups that trails by shift = ⌊n_m/c⌋.
    """
    shift, glook = n_m // c, n_cm - 1 + (n_m % c > 0)
    return n_m - 1, shift, glook


def hybrid_cache_attend_parallel(
    Q: torch.Tensor,
    K: torch.Tensor,
    V: torch.Tensor,
    *,
    n_m: int = 4,
    c: int = 2,
    n_cm: int = 2,
    block: int | None = None,
) -> torch.Tensor:
    """Every read-out from the closed form: the raw band g(i)·c .. i plus the pooled groups g - n_cm .. g - 1.

    Queries go in blocks of ``block`` positions (a multiple of c; default about 64). Block b scores one window of
    raw keys (``key_blocks`` with lookback n_m - 1) and one window of mean-pooled groups (``key_blocks`` on the
    pooled sequence), in one softmax. Blocks start at multiples of c, so g(b·block + r) = b·block/c + g_r and the
    visibility rule is the same for every block in relative positions; only keys before the stream (zero padding
    in the first blocks) need hiding per block. Blocks go through in groups of about 1024 queries, so the score
    matrix stays small. Returns ``(*batch, T, D_v)``.
    """
    dtype = torch.promote_types(check_sequences(K, V), check_sequences(Q, V))
    T, D = Q.shape[-2], Q.shape[-1]
    block = _block(c) if block is None else block
    if block % c:
        raise ValueError(f"block={block} must be a multiple of the compression rate c={c}")
    if T == 0:
        return V.to(dtype).clone()  # (*batch, 0, D_v)
    nb, gb = n_blocks(T, block), block // c  # query blocks; groups per block
    lookback, shift, glook = _windows(n_m, c, n_cm)

    def windows(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # group j sits at row j + shift of a sequence of nb·gb rows, so block b's window is a key_blocks window
        P = mean_pool(X.to(dtype), c=c)  # (*batch, ⌊T/c⌋, D)
        P = F.pad(P, (0, 0, shift, max(0, nb * gb - shift - P.shape[-2])))  # (*batch, >= nb·gb, D)
        P = P[..., : nb * gb, :]  # (*batch, nb·gb, D): later groups are newer than any query here sees
        pooled = key_blocks(P, block=gb, lookback=glook)  # (*batch, nb, Wc, D), Wc = gb + glook (a view)
        return pooled, key_blocks(X.to(dtype), block=block, lookback=lookback)  # raw: (*batch, nb, W, D)

    (pk, kb), (pv, vb) = windows(K), windows(V)
    dev = Q.device
    # relative positions inside a block: query r, raw key r', group u' (from the block's first query / group)
    r = torch.arange(block, device=dev)[:, None]  # (block, 1)
    raw_r = torch.arange(block + lookback, device=dev) - lookback  # (W,)
    group_r = torch.arange(gb + glook, device=dev) - glook - shift  # (Wc,)
    g_r = (r - n_m).div(c, rounding_mode="floor") + 1  # (block, 1): g(i) - b·gb, before clamping at 0
    # CMem after token i: groups g - n_cm .. g - 1;  Mem: raw positions g·c .. i; keys before the stream are zero
    # padding (first blocks only): hidden too, which is also g's clamp at 0. From block `first` on no key is
    # padding, so every later block shares block `first`'s mask: masks are built for blocks 0..first only
    first = min(nb - 1, max(-(-(glook + shift) // gb), -(-lookback // block)))
    starts = torch.arange(first + 1, device=dev)[:, None, None]  # (first + 1, 1, 1)
    group_ok = (
        (group_r >= g_r - n_cm) & (group_r < g_r) & (starts * gb + group_r >= 0)
    )  # (first+1, block, Wc)
    raw_ok = (raw_r <= r) & (raw_r >= g_r * c) & (starts * block + raw_r >= 0)  # (first+1, block, W)
    ok = torch.cat([group_ok, raw_ok], dim=-1)  # (first + 1, block, Wc + W), in the order [CMem; Mem]
    mask = torch.zeros(ok.shape, dtype=dtype, device=dev).masked_fill_(~ok, float("-inf"))  # 0 or -inf
    Wc = pk.shape[-2]
    q = query_blocks(Q.to(dtype), block=block) * D**-0.5  # (*batch, nb, block, D), scaled by 1/√d once
    out = V.new_empty((*V.shape[:-2], nb, block, V.shape[-1]), dtype=dtype)  # (*batch, nb, block, D_v)
    group = max(1, 1024 // block)  # query blocks per pass: the scores (1.6 MiB at W = 400) stay in cache
    for start in range(0, nb, group):  # O(T / 4096) iterations of vectorised work
        blocks = slice(start, min(start + group, nb))
        qg = q[..., blocks, :, :]  # (*batch, G, block, D)
        # s = q · k / √d over [CMem; Mem]: the two windows scored apart (the keys are never copied together)
        keys = torch.cat([pk[..., blocks, :, :], kb[..., blocks, :, :]], dim=-2)  # (*batch, G, Wc + W, D)
        scores = qg @ keys.transpose(-1, -2)  # (*batch, G, block, Wc + W): one product over [CMem; Mem]
        # -inf where hidden: each block's own mask up to `first`, then the shared one
        if start >= first:
            scores.add_(mask[first])  # (block, Wc + W), broadcast over the group's blocks
        else:
            scores.add_(
                mask[torch.arange(start, blocks.stop, device=dev).clamp(max=first)]
            )  # (G, block, Wc+W)
        p = torch.softmax(scores, dim=-1)  # (*batch, G, block, Wc + W), one softmax over both windows
        y = p[..., :Wc] @ pv[..., blocks, :, :]  # (*batch, G, block, D_v)
        out[..., blocks, :, :] = y.add_(p[..., Wc:] @ vb[..., blocks, :, :])
    return out.flatten(-3, -2)[..., :T, :]  # (*batch, T, D_v)


def _attend_cost(T: int, d: int, hp: Mapping[str, int | float]) -> tuple[float, float]:
    """Every query block scores block + n_m - 1 band keys and gb + glook pooled keys (2·2·T·W·d), masked or not."""
    n_m, c, n_cm = int(hp.get("n_m", 4)), int(hp.get("c", 2)), int(hp.get("n_cm", 2))
    block = _block(c)
    lookback, _, glook = _windows(n_m, c, n_cm)
    W = block + lookback + block // c + glook
    return 4.0 * T * W * d + 2.0 * T * d, 4.0 * 4 * T * d  # + pooling; read Q, K, V and write Y once


def _rule(hp: Mapping[str, int | float]) -> str | None:
    """A group of c pairs is evicted from a full local memory, so it must fit: c <= n_m."""
    return None if hp["c"] <= hp["n_m"] else f"the compression rate c={hp['c']} must be <= n_m={hp['n_m']}"


SPEC = register(
    ModelSpec(
        id="hybrid-cache",
        title="Hybrid cache (local window + compressed memory)",
        hyperparams={
            "n_m": HyperParam("int", 1, 4096, 4),
            "c": HyperParam("int", 1, 64, 2),
            "n_cm": HyperParam("int", 1, 4096, 2),
        },
        state_layout={
            "k": ("n_m", "d"),
            "v": ("n_m", "d"),
            "n": (),
            "ck": ("n_cm", "d"),
            "cv": ("n_cm", "d"),
            "cn": (),
        },
        fixed_size=True,
        cost_per_step="O((n_m + n_cm) d)",
        cost_total="O(n (n_m + n_cm) d)",
        init=hybrid_cache_init,
        step=hybrid_cache_step,
        read=hybrid_cache_read,
        scan=hybrid_cache_scan,
        parallel=hybrid_cache_parallel,
        attend_parallel=hybrid_cache_attend_parallel,
        parallel_form="blocked attention + pooled groups",
        parallel_cost=_attend_cost,
        paper="Rae et al. 2020",
        hp_rule=_rule,
    )
)
