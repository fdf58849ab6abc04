r"""Fixed-size window cache: sliding-window (local) attention.

Idea: keep only the n_c most recent key-value pairs. Each new pair enters at one end of a FIFO queue and, once the
queue is full, the oldest pair falls out of the other end; the query attends over what is left. The memory has a
fixed size (2·n_c·d numbers) however long the stream runs, at the price of forgetting everything older than n_c
tokens. This is the causal local attention of Longformer's window pattern and of Mistral's sliding-window
attention (SWA, W = 4096 there).

Recurrence (0-based positions, as in the book):

    Mem_i = (K_{[i-n_c+1, i]}, V_{[i-n_c+1, i]}):   K_i = cat(K_{i-1}[1:], k_i)   (drop the oldest, append k_i),
    y_i = softmax(q_i K_iᵀ / √d) V_i   over the valid slots only.

State ``{"k": (*batch, n_c, d), "v": (*batch, n_c, d_v), "n": (*batch,)}``. Slots are in time order, oldest first
and newest last, right-aligned: row n_c-1 always holds the newest pair. While the window is not yet full
(i < n_c - 1) only the last n = i + 1 rows are real and the front rows are still the zeros of Mem_{-1}; ``n`` counts
the valid rows, n_i = min(i + 1, n_c), and the read masks the first n_c - n rows. Reading Mem_{-1} (n = 0) is
undefined: every read comes after a step.

Storage detail: Mistral's rolling buffer keeps the same set of pairs without shifting, writing token i into slot
i mod W. Once it wraps, slot order is no longer time order (W = 4, after token 9: slots hold 8, 9, 6, 7), so any
position-dependent read (RoPE) must use the true positions. Here the shift keeps slot order = time order, which is
easier to inspect; the softmax does not care about the order.

Parallel forms: every state is an ``unfold`` of K, V zero-padded in front by n_c - 1 rows (exact, only copies).
Every read-out is banded attention, key j visible to query i iff i - n_c < j <= i (the mask the book and Mistral
put on the full score matrix), computed by query blocks so that only T·(block + n_c - 1) scores exist, never T × T.
``band_attention`` below is that blocking (as in ``reference.kernels.blocked_attention``) with one shared mask and
the fused softmax kernel; ``window_attend_naive`` is the full masked T × T version, for short sequences only.

Cost: O(n_c·d) per step, O(n·n_c·d) in total, O(n_c·d) memory.

Sources: Xiao & Zhu, "Foundations of Large Language Models", arXiv 2501.09223, ch. 2 (window-based cache);
I. Beltagy, M. Peters, A. Cohan, "Longformer", arXiv 2004.05150, §3.1; A. Jiang et al., "Mistral 7B",
arXiv 2310.06825, §2 (sliding window attention, rolling buffer cache).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

from reference.kernels import n_blocks, query_blocks
from reference.registry import HyperParam, ModelSpec, State, check_sequences, register, stack_states


def band_block(width: int) -> int:
    """Queries per block for a band of ``width`` keys: width/4, at least 64.

    A query scores (m+1)·block keys, m = ⌈(width-1)/block⌉: about 1.25·width at width/4. Smaller blocks waste
    fewer scores but run smaller matrix products; width/4 was as fast as any at width 256, T = 65536, d = 64.
    """
    return max(64, width // 4)


def _key_windows(X: torch.Tensor, extra: torch.Tensor | None, *, block: int, m: int) -> torch.Tensor:
    """``(*batch, T, D) -> (B, nb, (m+1)·(E+block), D)``, B = prod(batch): the keys each query block sees.

    The sequence is cut into blocks of ``block`` rows (m zero blocks in front) and the E ``extra`` rows are put in
    front of every block; query block b then sees blocks b-m..b with their extra rows, one window of (m+1)·(E+block)
    consecutive rows. The windows overlap, so they are a strided view (``unfold``) of O(T·D) memory, not a copy.
    """
    T, D = X.shape[-2], X.shape[-1]
    nb = n_blocks(T, block)
    Xp = F.pad(X, (0, 0, m * block, nb * block - T)).reshape(-1, nb + m, block, D)  # (B, nb+m, block, D)
    if extra is not None:
        E = extra.shape[-2]
        Xp = torch.cat([extra.reshape(Xp.shape[0], 1, E, D).expand(-1, nb + m, -1, -1), Xp], dim=-2)
    rows = Xp.flatten(1, 2)  # (B, (nb+m)·(E+block), D)
    size = Xp.shape[-2]  # E + block
    return rows.unfold(1, (m + 1) * size, size).transpose(-1, -2)  # (B, nb, (m+1)·(E+block), D), a view


def band_attention(
    Q: torch.Tensor,
    K: torch.Tensor,
    V: torch.Tensor,
    *,
    width: int,
    block: int,
    start: int = 0,
    extra_k: torch.Tensor | None = None,
    extra_v: torch.Tensor | None = None,
    scale: float | None = None,
) -> torch.Tensor:
    """Banded causal softmax attention by query blocks: the fast path of window-like read-outs.

    Query i sees the keys j with max(start, i - width + 1) <= j <= i and, if given, E extra keys
    ``extra_k: (*batch, E, D_k)`` with values ``extra_v: (*batch, E, D_v)``; extra key e stands for token e (an
    attention sink) and is hidden while e > i. Scores are scaled by ``scale`` (default 1/√D_k).

    Query block b (``block`` queries) scores the m = ⌈(width-1)/block⌉ key blocks before it and its own, plus
    the extra keys: (m+1)·(E+block) scores per query, a few more than the E + width - 1 it needs, never T × T.
    Visibility depends only on i - j once a block is clear of the sequence start, so all later blocks share ONE
    mask, and the 4-D layout (batch, blocks, block, D) with D_k = D_v lets ``scaled_dot_product_attention`` run
    its fused kernel on strided key windows (on CPU about 4× faster than ``reference.kernels.blocked_attention``,
    which builds a mask per block). Returns ``(*batch, T, D_v)``.
    """
    T, D_k, D_v = Q.shape[-2], Q.shape[-1], V.shape[-1]
    if T == 0:
        return V.new_zeros(V.shape)  # (*batch, 0, D_v)
    scale = D_k**-0.5 if scale is None else scale
    # the fused kernel wants one head width: zero columns change no score and no output column we keep
    D = max(D_k, D_v)
    Q, K, V = (F.pad(X, (0, D - X.shape[-1])) if X.shape[-1] < D else X for X in (Q, K, V))  # (*batch, T, D)
    if extra_k is not None and extra_v is not None:
        extra_k, extra_v = (F.pad(X, (0, D - X.shape[-1])) for X in (extra_k, extra_v))  # (*batch, E, D)
    E = 0 if extra_k is None else extra_k.shape[-2]
    m, nb = -(-(width - 1) // block), n_blocks(T, block)
    q = query_blocks(Q, block=block).reshape(-1, nb, block, D)  # (B, nb, block, D)
    k = _key_windows(K, extra_k, block=block, m=m)  # (B, nb, (m+1)(E+block), D)
    v = _key_windows(V, extra_v, block=block, m=m)  # (B, nb, (m+1)(E+block), D)
    # column c of a window: key block s = c // (E+block) (0..m, m = the query's own), row r = c % (E+block)
    col = torch.arange((m + 1) * (E + block), device=Q.device)
    s_idx, r_idx = col // (E + block), col % (E + block)  # ((m+1)(E+block),) each
    qi = torch.arange(block, device=Q.device)[:, None]  # (block, 1) query offset in its block

    def bias(b: torch.Tensor) -> torch.Tensor:
        """Additive mask of the query blocks ``b: (n,)``: 0 where visible, -inf where hidden. ``(n, block, cols)``."""
        qpos = b[:, None, None] * block + qi  # (n, block, 1)
        kpos = (b[:, None, None] - m + s_idx) * block + r_idx - E  # (n, 1, cols), token position of a key row
        band = (kpos <= qpos) & (kpos > qpos - width) & (kpos >= max(start, 0)) & (r_idx >= E)
        # extra key r: only the copy in the query's own block (s = m) counts, and only once i >= r
        seen = (r_idx < E) & (s_idx == m) & (r_idx <= qpos)
        mask = band | seen  # (n, block, cols)
        return torch.zeros(mask.shape, dtype=Q.dtype, device=Q.device).masked_fill(~mask, float("-inf"))

    # the first h blocks reach before max(start, 0) or run before every extra key is seen: a mask each;
    # from block h on the mask is block h's (visibility depends on i - j only)
    h = min(nb, max(m + -(-max(start, 0) // block), -(-(E - 1) // block)))
    blocks = torch.arange(nb, device=Q.device)
    parts = []
    if h > 0:
        head = bias(blocks[:h])  # (h, block, cols)
        parts.append(
            F.scaled_dot_product_attention(q[:, :h], k[:, :h], v[:, :h], attn_mask=head, scale=scale)
        )
    if h < nb:
        shared = bias(blocks[h : h + 1])[0]  # (block, cols)
        parts.append(
            F.scaled_dot_product_attention(q[:, h:], k[:, h:], v[:, h:], attn_mask=shared, scale=scale)
        )
    Y = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]  # (B, nb, block, D)
    return Y.reshape(*Q.shape[:-2], nb * block, D)[..., :T, :D_v]  # (*batch, T, D_v)


def window_init(
    d: int,
    *,
    batch: Sequence[int] = (),
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    d_v: int | None = None,
    n_c: int = 4,
) -> State:
    """Mem_{-1}: n_c zero slots, none valid yet (n = 0). ``d_v`` defaults to ``d``."""
    batch = tuple(batch)
    return {
        "k": torch.zeros((*batch, n_c, d), dtype=dtype, device=device),  # (*batch, n_c, d)
        "v": torch.zeros(
            (*batch, n_c, d if d_v is None else d_v), dtype=dtype, device=device
        ),  # (*batch, n_c, d_v)
        "n": torch.zeros(batch, dtype=dtype, device=device),  # (*batch,)
    }


def window_step(mem: State, k: torch.Tensor, v: torch.Tensor, *, n_c: int = 4) -> State:
    """Mem_i: drop the oldest slot (row 0), append (k_i, v_i) as the newest (row n_c-1). Pure; broadcasts."""
    if mem["k"].shape[-2] != n_c:
        raise ValueError(f"the state has {mem['k'].shape[-2]} slots but n_c={n_c}")
    dtype = torch.promote_types(mem["k"].dtype, torch.promote_types(k.dtype, v.dtype))
    batch = torch.broadcast_shapes(mem["k"].shape[:-2], k.shape[:-1], v.shape[:-1])  # type: ignore[no-untyped-call]
    old_k = mem["k"].to(dtype).expand(*batch, n_c, mem["k"].shape[-1])  # (*batch, n_c, d)
    old_v = mem["v"].to(dtype).expand(*batch, n_c, mem["v"].shape[-1])  # (*batch, n_c, d_v)
    # K_i = cat(K_{i-1}[1:], k_i): FIFO, the oldest falls out at the front
    new_k = torch.cat([old_k[..., 1:, :], k.to(dtype).expand(*batch, k.shape[-1]).unsqueeze(-2)], dim=-2)
    # V_i = cat(V_{i-1}[1:], v_i)
    new_v = torch.cat([old_v[..., 1:, :], v.to(dtype).expand(*batch, v.shape[-1]).unsqueeze(-2)], dim=-2)
    # n_i = min(n_{i-1} + 1, n_c)
    new_n = torch.clamp(mem["n"].to(dtype) + 1, max=n_c).expand(batch).contiguous()  # (*batch,)
    return {"k": new_k, "v": new_v, "n": new_n}  # k: (*batch, n_c, d), v: (*batch, n_c, d_v)


def window_read(mem: State, q: torch.Tensor, *, n_c: int = 4) -> torch.Tensor:
    """softmax(q Kᵀ / √d) V over the n valid (last) slots; ``q: (*batch, d)`` -> ``(*batch, d_v)``."""
    dtype = torch.promote_types(mem["k"].dtype, q.dtype)
    # slot s is valid iff s >= n_c - n (the window is right-aligned)
    slots = torch.arange(n_c, device=q.device)  # (n_c,)
    valid = slots >= n_c - mem["n"].unsqueeze(-1)  # (*batch, n_c)
    # s_j = q · k_j / √d, -inf on the empty front slots
    scores = (mem["k"].to(dtype) @ q.to(dtype).unsqueeze(-1)).squeeze(-1)  # (*batch, n_c)
    scores = scores / q.shape[-1] ** 0.5  # (*batch, n_c)
    scores = scores.masked_fill(~valid, float("-inf"))  # (*batch, n_c)
    # y = Σ_j softmax(s)_j v_j
    weights = torch.softmax(scores, dim=-1)  # (*batch, n_c)
    return (weights.unsqueeze(-2) @ mem["v"].to(dtype)).squeeze(-2)  # (*batch, d_v)


def window_scan(K: torch.Tensor, V: torch.Tensor, *, n_c: int = 4) -> State:
    """The specification: ``step`` over t = 0..T-1. ``K: (*batch, T, D)`` -> k: ``(*batch, T, n_c, D)``."""
    dtype = check_sequences(K, V)
    *batch, T, D = K.shape
    mem = window_init(D, batch=batch, dtype=dtype, device=K.device, d_v=V.shape[-1], n_c=n_c)
    states: list[State] = []
    for t in range(T):
        mem = window_step(mem, K[..., t, :], V[..., t, :], n_c=n_c)  # k: (*batch, n_c, D)
        states.append(mem)
    return stack_states(states, mem, axis=len(batch))  # k: (*batch, T, n_c, D), n: (*batch, T)


def window_parallel(K: torch.Tensor, V: torch.Tensor, *, n_c: int = 4) -> State:
    """Every state without a loop: window t = rows t-n_c+1..t of K, V padded in front by n_c-1 zero rows."""
    dtype = check_sequences(K, V)
    *batch, T, D = K.shape
    if T == 0:
        empty = window_init(D, batch=batch, dtype=dtype, device=K.device, d_v=V.shape[-1], n_c=n_c)
        return stack_states([], empty, axis=len(batch))
    # K_t = [0]*(n_c-1-t) ++ K[max(0, t-n_c+1) .. t], as overlapping windows of the padded sequence
    K_pad = F.pad(K.to(dtype), (0, 0, n_c - 1, 0))  # (*batch, n_c-1+T, D)
    V_pad = F.pad(V.to(dtype), (0, 0, n_c - 1, 0))  # (*batch, n_c-1+T, D_v)
    k = K_pad.unfold(-2, n_c, 1).transpose(-1, -2).contiguous()  # (*batch, T, n_c, D)
    v = V_pad.unfold(-2, n_c, 1).transpose(-1, -2).contiguous()  # (*batch, T, n_c, D_v)
    # n_t = min(t + 1, n_c)
    n = torch.arange(1, T + 1, device=K.device).clamp(max=n_c).to(dtype).expand(*batch, T).contiguous()
    return {"k": k, "v": v, "n": n}  # n: (*batch, T)


def window_attend_parallel(
    Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, *, n_c: int = 4, block: int | None = None
) -> torch.Tensor:
    """Every read-out: banded causal attention (i - n_c < j <= i) by query blocks, never T × T.

    Block b (queries [b·block, (b+1)·block)) sees keys from n_c - 1 before its first query. ``block`` defaults
    to ``band_block(n_c)``. Returns ``(*batch, T, D_v)``.
    """
    dtype = torch.promote_types(check_sequences(K, V), check_sequences(Q, V))

    block = band_block(n_c) if block is None else block
    # y_i = softmax_{i - n_c < j <= i}(q_i · k_j / √d) v_j
    return band_attention(Q.to(dtype), K.to(dtype), V.to(dtype), width=n_c, block=block)  # (*batch, T, D_v)


def window_attend_naive(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, *, n_c: int = 4) -> torch.Tensor:
    """The readable baseline: the full T × T score matrix with a banded causal mask. O(T²) time AND memory.

    At T = 65536 the score matrix alone is 16 GiB in float32; use it only on short sequences or as the
    benchmark's "naive masked attention" baseline. Returns ``(*batch, T, D_v)``.
    """
    dtype = torch.promote_types(check_sequences(K, V), check_sequences(Q, V))
    T = Q.shape[-2]
    i = torch.arange(T, device=Q.device)[:, None]  # (T, 1) query positions
    j = torch.arange(T, device=Q.device)[None, :]  # (1, T) key positions
    band = (j <= i) & (j > i - n_c)  # (T, T)
    # S = Q Kᵀ / √d, -inf outside the band
    scores = (Q.to(dtype) @ K.to(dtype).transpose(-1, -2)) / Q.shape[-1] ** 0.5  # (*batch, T, T)
    scores = scores.masked_fill(~band, float("-inf"))  # (*batch, T, T)
    # Y = softmax(S) V
    return torch.softmax(scores, dim=-1) @ V.to(dtype)  # (*batch, T, D_v)


def _attend_cost(T: int, d: int, hp: Mapping[str, int | float]) -> tuple[float, float]:
    """Blocked band: every query scores (m+1)·block keys, m = ⌈(n_c-1)/block⌉ (the band plus the blocking waste),
    for Q Kᵀ and A V."""
    n_c = int(hp.get("n_c", 4))
    block = band_block(n_c)
    keys = (-(-(n_c - 1) // block) + 1) * block
    return 2.0 * 2.0 * T * keys * d, 4.0 * 4 * T * d  # read Q, K, V and write Y once, float32


SPEC = register(
    ModelSpec(
        id="window",
        title="Fixed-size window (sliding-window attention)",
        hyperparams={"n_c": HyperParam("int", 1, 8192, 4)},
        state_layout={"k": ("n_c", "d"), "v": ("n_c", "d"), "n": ()},
        fixed_size=True,
        cost_per_step="O(n_c d)",
        cost_total="O(n n_c d)",
        init=window_init,
        step=window_step,
        read=window_read,
        scan=window_scan,
        parallel=window_parallel,
        attend_parallel=window_attend_parallel,
        parallel_form="blocked window attention",
        parallel_cost=_attend_cost,
        bench_hp={"n_c": 256},
        paper="Beltagy et al. 2020; Jiang et al. 2023",
    )
)
