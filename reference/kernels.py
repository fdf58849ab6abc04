r"""Shared parallel kernels: blocked (banded) softmax attention and chunked linear attention.

Two shapes of work recur across the memory models, so they live here once and the model modules call them with
their own visibility rule:

* **Blocked attention** (window, attention sinks; a general rule for any visibility): queries are cut
  into blocks of ``block`` positions; block ``b`` covers queries ``[b·block, (b+1)·block)`` and sees the keys
  ``[b·block - lookback, (b+1)·block)``. Only those ``block × (block + lookback)`` scores are ever formed, so
  the memory is O(T·(block + lookback)) and never T×T. A ``visible(qpos, kpos)`` rule (absolute positions) masks
  the scores inside each block; keys before position 0 and after T-1 are padding and always hidden.
* **Chunked linear attention** (fast weights, linear attention): the sum Σ_{j<=i} v_j (φk_j · φq_i) splits into
  the chunks before i's chunk, carried as one d_k × d_v state per chunk (a prefix sum over chunks), plus a small
  causal quadratic form inside the chunk. Exact in arithmetic; only the summation order changes.

Shapes are batch-first: ``Q, K: (*batch, T, D_k)``, ``V: (*batch, T, D_v)``; outputs ``(*batch, T, D_v)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Visible = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``visible(qpos, kpos) -> bool`` on absolute positions; ``qpos: (nb, block, 1)``, ``kpos: (nb, 1, W)``."""

# rows per chunk of the chunked scans (``decayed_sums``): C row ops per level, and each level is C times shorter
# (measured at T = 65536, d = 64 on the 2-core AMD EPYC VM: C = 16 took 1.8 ms, C = 64 2.0 ms, C = 128 3.6 ms;
# the chunk matmuls they replaced took 3.4 ms at C = 16 and torch.cumsum 7.7 ms)
PREFIX_CHUNK = 16
# chunk totals up to this many numbers are summed by torch.cumsum (4095 × 64 of them: 0.16 ms, against 0.32 ms
# for the levels of ``decayed_sums``, same machine)
CUMSUM_MAX = 2**18


def scan_flops(rows: float, width: float, chunk: int = PREFIX_CHUNK) -> float:
    """Flops of ``decayed_sums`` on ``(rows, width)``: per element 2 for its chunk's total, 1 for the scaled copy
    and 2 for the row update, then the same on the rows / C chunk totals one level up, and so on (× C / (C − 1))."""
    return 5.0 * rows * width * chunk / (chunk - 1)


def gather_rows(X: torch.Tensor, index: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
    """Rows ``X[..., index, :]`` where ``ok``, zero rows elsewhere: ``(*batch, n, D)`` -> ``(*batch, *index.shape, D)``."""
    padded = F.pad(X, (0, 0, 1, 0))  # (*batch, 1 + n, D): row 0 is zeros
    rows = padded[..., torch.where(ok, index + 1, 0).flatten(), :]  # (*batch, index.numel(), D)
    return rows.reshape(*X.shape[:-2], *index.shape, X.shape[-1])  # (*batch, *index.shape, D)


def _pad_time(X: torch.Tensor, front: int, back: int) -> torch.Tensor:
    """Zero rows before and after the time axis (-2). ``(*batch, T, D) -> (*batch, front + T + back, D)``."""
    return F.pad(X, (0, 0, front, back))


def n_blocks(T: int, block: int) -> int:
    """How many blocks of ``block`` positions cover ``T`` positions (the last one may be partly padding)."""
    return -(-T // block)


def query_blocks(X: torch.Tensor, *, block: int) -> torch.Tensor:
    """``(*batch, T, D) -> (*batch, nb, block, D)``: consecutive blocks, the last padded with zeros."""
    T = X.shape[-2]
    nb = n_blocks(T, block)
    Xp = _pad_time(X, 0, nb * block - T) if nb * block != T else X  # (*batch, nb·block, D)
    return Xp.reshape(*Xp.shape[:-2], nb, block, Xp.shape[-1])  # (*batch, nb, block, D)


def key_blocks(X: torch.Tensor, *, block: int, lookback: int) -> torch.Tensor:
    """``(*batch, T, D) -> (*batch, nb, block + lookback, D)``: block b holds positions [b·block - lookback, (b+1)·block).

    Built with ``unfold`` on a zero-padded copy, so the overlapping windows are a strided view of O(T·D) memory
    until a matmul reads them.
    """
    T = X.shape[-2]
    nb = n_blocks(T, block)
    Xp = _pad_time(X, lookback, nb * block - T)  # (*batch, lookback + nb·block, D)
    windows = Xp.unfold(-2, block + lookback, block)  # (*batch, nb, D, block + lookback), a view
    return windows.transpose(-1, -2)  # (*batch, nb, block + lookback, D)


def block_positions(
    T: int, *, block: int, lookback: int, device: torch.device | str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Absolute positions of the queries ``(nb, block, 1)`` and keys ``(nb, 1, block + lookback)`` of every block."""
    nb = n_blocks(T, block)
    starts = torch.arange(nb, device=device)[:, None] * block  # (nb, 1)
    qpos = starts + torch.arange(block, device=device)  # (nb, block)
    kpos = starts - lookback + torch.arange(block + lookback, device=device)  # (nb, block + lookback)
    return qpos[:, :, None], kpos[:, None, :]


def blocked_attention(
    Q: torch.Tensor,
    K: torch.Tensor,
    V: torch.Tensor,
    *,
    block: int,
    lookback: int,
    visible: Visible,
    extra_scores: torch.Tensor | None = None,
    extra_values: torch.Tensor | None = None,
) -> torch.Tensor:
    """Softmax attention of every query over the keys its block can see, masked by ``visible``.

    softmax(q_i K_vᵀ / √d_k) V_v, where v ranges over the positions j in the block's key window with
    ``visible(i, j)``, 0 <= j < T. Every query must see at least one key (its own position, for every rule here).

    ``extra_scores: (*batch, nb, block, E)`` (already scaled; ``-inf`` where hidden) and ``extra_values:
    (*batch, nb, E, D_v)`` add E more keys per block to the same softmax (sinks, compressed memories).
    Returns ``(*batch, T, D_v)``.
    """
    T = Q.shape[-2]
    if T == 0:
        return V.new_zeros((*V.shape[:-1], V.shape[-1]))
    qb = query_blocks(Q, block=block)  # (*batch, nb, block, D_k)
    kb = key_blocks(K, block=block, lookback=lookback)  # (*batch, nb, W, D_k), W = block + lookback
    vb = key_blocks(V, block=block, lookback=lookback)  # (*batch, nb, W, D_v)
    qpos, kpos = block_positions(T, block=block, lookback=lookback, device=Q.device)
    # a key is a real position 0 <= j < T that the model's rule lets query i see
    mask = visible(qpos, kpos) & (kpos >= 0) & (kpos < T)  # (nb, block, W)
    if extra_scores is None:
        out = F.scaled_dot_product_attention(qb, kb, vb, attn_mask=mask)  # (*batch, nb, block, D_v)
    else:
        assert extra_values is not None, "extra_scores need extra_values"
        # s_ij = q_i · k_j / √d_k on the band, -inf where hidden, then the extra keys' scores beside them
        band = (qb @ kb.transpose(-1, -2)) * Q.shape[-1] ** -0.5  # (*batch, nb, block, W)
        band = band.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(torch.cat([band, extra_scores], dim=-1), dim=-1)  # (*batch, nb, block, W + E)
        out = weights @ torch.cat([vb, extra_values.expand(*vb.shape[:-2], -1, -1)], dim=-2)
    return out.flatten(-3, -2)[..., :T, :]  # (*batch, T, D_v)


def band_block(width: int) -> int:
    """Queries per block for a band of ``width`` keys: width/8, at least 32.

    A query scores (m+1)·block keys, m = ⌈(width-1)/block⌉: about 1.125·width at width/8. Smaller blocks waste
    fewer scores but run smaller matrix products. At width 256, T = 65536, d = 64: width/4 was as fast as any on
    an Intel Xeon VM; on an AMD EPYC VM width/8 was 8% faster for the window (39.8 against 43.2 ms, alternating)
    and 2% for attention sinks, while 48, 96 and 128 were slower.
    """
    return max(32, width // 8)


def _key_windows(
    X: torch.Tensor, extra: torch.Tensor | None, *, block: int, m: int, width: int
) -> torch.Tensor:
    """``(*batch, T, D_x) -> (B, nb, (m+1)·(E+block), width)``, B = prod(batch): the keys each query block sees.

    The sequence is cut into blocks of ``block`` rows (m zero blocks in front) and the E ``extra`` rows are put in
    front of every block; query block b then sees blocks b-m..b with their extra rows, one window of (m+1)·(E+block)
    consecutive rows. Columns past D_x are zeros (the fused kernel wants one head width). The rows are laid out
    with one copy of X; the windows overlap, so they are a strided view (``unfold``) of it, not a copy each.
    """
    T, D_x = X.shape[-2], X.shape[-1]
    nb, E = n_blocks(T, block), 0 if extra is None else extra.shape[-2]
    size = E + block
    rows = X.reshape(-1, T, D_x)  # (B, T, D_x)
    Xp = X.new_empty((rows.shape[0], nb + m, size, width))  # (B, nb+m, E+block, width)
    Xp[..., D_x:] = 0.0
    Xp[:, :m, E:, :D_x] = 0.0  # the m blocks before the sequence
    full, rest = divmod(T, block)  # whole blocks of the sequence, and the rows of a last partial one
    Xp[:, m : m + full, E:, :D_x] = rows[:, : full * block].reshape(Xp.shape[0], full, block, D_x)
    if rest:
        Xp[:, m + full, E:, :D_x] = 0.0
        Xp[:, m + full, E : E + rest, :D_x] = rows[:, full * block :]
    if extra is not None:
        E_rows = extra.reshape(Xp.shape[0], 1, E, extra.shape[-1])  # (B, 1, E, D_e)
        Xp[:, :, :E, : extra.shape[-1]] = E_rows  # in front of every block
    flat = Xp.flatten(1, 2)  # (B, (nb+m)·(E+block), width)
    return flat.unfold(1, (m + 1) * size, size).transpose(-1, -2)  # (B, nb, (m+1)·(E+block), width), a view


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
    Q = F.pad(Q, (0, D - D_k)) if D_k < D else Q  # (*batch, T, D)
    E = 0 if extra_k is None else extra_k.shape[-2]
    m, nb = -(-(width - 1) // block), n_blocks(T, block)
    q = query_blocks(Q, block=block).reshape(-1, nb, block, D)  # (B, nb, block, D)
    k = _key_windows(K, extra_k, block=block, m=m, width=D)  # (B, nb, (m+1)(E+block), D)
    v = _key_windows(V, extra_v, block=block, m=m, width=D)  # (B, nb, (m+1)(E+block), D)
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
    # every block under block h's mask, then the first h blocks again under their own, written over (h is a few
    # blocks: cheaper than computing the two parts apart and concatenating the whole output)
    shared = bias(blocks[min(h, nb - 1) : min(h, nb - 1) + 1])[0]  # (block, cols)
    Y = F.scaled_dot_product_attention(q, k, v, attn_mask=shared, scale=scale)  # (B, nb, block, D)
    if h > 0:
        head = bias(blocks[:h])  # (h, block, cols)
        Y[:, :h] = F.scaled_dot_product_attention(q[:, :h], k[:, :h], v[:, :h], attn_mask=head, scale=scale)
    return Y.reshape(*Q.shape[:-2], nb * block, D)[..., :T, :D_v]  # (*batch, T, D_v)


def prefix_sum(
    X: torch.Tensor, *, dim: int = -2, chunk: int = PREFIX_CHUNK, exclusive: bool = False
) -> torch.Tensor:
    """Σ_{j<=i} X_j along ``dim`` (Σ_{j<i} with ``exclusive``), by chunks instead of ``torch.cumsum``.

    ``torch.cumsum`` runs a scalar loop on CPU (about 2-4 ns an element here, 10-20× a memory copy). The same sums
    by chunks are ``decayed_sums`` with no decay (a = 1): the totals of the chunks before each chunk (the same scan
    again on the T / chunk chunk totals), then a running sum inside every chunk, one row of all chunks per op. Each
    sum adds at most ``chunk`` terms per level, so rounding is no worse than a running sum. Any shape; returns
    ``X``'s shape.
    """
    n = X.shape[dim]
    if X.numel() == 0:
        return X.clone()
    rows = X.movedim(dim, 0)  # (n, *rest)
    flat = rows.reshape(n, -1)  # (n, F)
    out = decayed_sums(flat, 1.0, 1.0, chunk)  # (n, F)
    if exclusive:
        out = torch.cat([torch.zeros_like(out[:1]), out[:-1]])  # shift down one row: Σ_{j<i}
    return out.reshape(rows.shape).movedim(0, dim)


def _powers(a: float, exponents: torch.Tensor, like: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """scale · a^e for integer e >= 0, computed in float64 (0^0 = 1), returned in ``like``'s dtype."""
    base = torch.tensor(a, dtype=torch.float64, device=like.device)
    return (scale * torch.pow(base, exponents.double())).to(like.dtype)


def _chunk_scan(
    xb: torch.Tensor,
    before: torch.Tensor,
    a: float,
    scale: float,
    keep: torch.Tensor | None = None,
    take: torch.Tensor | None = None,
    overwrite: bool = False,
) -> torch.Tensor:
    """h_r = a h_{r−1} + scale · x_r inside every chunk, from the state ``before`` it: one in-place op per row.

    ``xb: (*batch, nc, C, D)``, ``before: (*batch, nc, D)`` (h_{-1} of each chunk); returns ``(*batch, nc, C, D)``.
    H = scale · X in one contiguous pass, then for r = 0..C−1 H_r += a H_{r−1} (H_{-1} = ``before``): row r of all
    chunks at once is one op over nc·D numbers, so the scan is C ops that each touch 1/C of the data, with no C × C
    matrix and no tiny batched matmul (those ran at a fifth of the machine's matmul rate). In place because an op
    on strided rows ran twice as fast with two operands as with ``out=`` and three. With row coefficients
    ``keep, take: (nc, C, 1)`` it runs h_r = keep_r h_{r−1} + take_r x_r instead. ``overwrite`` scans in ``xb``'s
    own memory (one allocation and one pass less) and returns it.
    """
    factor = scale if take is None else take
    H = xb.mul_(factor) if overwrite else torch.mul(xb, factor)  # (*batch, nc, C, D): scale · x_r
    for r in range(xb.shape[-2]):
        prev = before if r == 0 else H[..., r - 1, :]  # (*batch, nc, D)
        if keep is None:
            H[..., r, :].add_(prev, alpha=a)  # + a h_{r−1}
        else:
            H[..., r, :].addcmul_(prev, keep[:, r])  # + keep_r h_{r−1}
    return H


def decayed_sums(
    X: torch.Tensor,
    a: float,
    scale: float,
    chunk: int,
    row_scale: torch.Tensor | None = None,
    *,
    overwrite: bool = False,
) -> torch.Tensor:
    """h_i = a h_{i−1} + scale · x_i with h_{-1} = 0, along the time axis: ``(*batch, T, D)`` -> same.

    Two passes over chunks of C positions. First each chunk's own contribution to the state at its end,
    Σ_r scale · a^{C−1−r} x_r (a plain sum when a = 1); those chunk-end states follow the same recurrence with
    decay a^C, solved by the same function one level up (C times shorter), which gives the state before every
    chunk. Then the recurrence inside all chunks at once, started from that state (``_chunk_scan``). Each sum adds
    at most C terms per level, so rounding is no worse than a running sum's.

    ``row_scale`` (``(T,)``, no zeros) returns g_i = s_i · h_i instead, at no extra pass over the output: the scan
    runs g_i = a (s_i / s_{i−1}) g_{i−1} + scale · s_i x_i (a running mean is the prefix sum with s_i = 1/(i+1)).
    ``overwrite`` lets the scan run in X's own memory (a temporary the caller no longer needs); the result may then
    be X itself.
    """
    if chunk < 2:
        raise ValueError(f"chunk must be at least 2 (each level must shrink), got {chunk}")
    T = X.shape[-2]
    if T == 0:
        return X.clone()
    C = min(chunk, T)
    xb = query_blocks(X, block=C)  # (*batch, nc, C, D), the last chunk padded with zeros
    nc = xb.shape[-3]
    if nc > 1:
        # each chunk's own part of the state at its end: Σ_r scale · a^{C−1−r} x_r
        if a == 1.0:
            own = xb.sum(dim=-2).mul_(scale)  # (*batch, nc, D)
        else:
            own = torch.matmul(_powers(a, torch.arange(C - 1, -1, -1, device=X.device), X, scale), xb)
        # S_c = a^C S_{c−1} + own_c: the true state at the end of chunk c; chunk c starts from S_{c−1}, S_{-1} = 0
        own = own[..., :-1, :]  # (*batch, nc − 1, D): the last chunk's total is nobody's start
        if a == 1.0 and own.numel() <= CUMSUM_MAX:
            ends = own.cumsum(dim=-2)  # few rows: torch's scalar loop beats another level's ops
        else:
            ends = decayed_sums(own, a**C, 1.0, chunk)
        before = F.pad(ends, (0, 0, 1, 0))  # (*batch, nc, D)
    else:
        before = xb.new_zeros(xb[..., 0, :].shape)  # (*batch, 1, D)
    if row_scale is None:
        # xb is X itself unless the last chunk was padded (then a copy, which may be overwritten anyway)
        H = _chunk_scan(xb, before, a, scale, overwrite=overwrite)  # (*batch, nc, C, D)
        return H.flatten(-3, -2)[..., :T, :]  # (*batch, T, D)
    s = F.pad(row_scale.to(X.dtype), (0, nc * C - T), value=1.0)  # (nc·C,)
    s_prev = F.pad(s[:-1], (1, 0), value=1.0)  # (nc·C,): s_{i−1}, and 1 before the first row
    keep = (a * s / s_prev).reshape(nc, C, 1)  # (nc, C, 1)
    take = (scale * s).reshape(nc, C, 1)  # (nc, C, 1)
    before = before * s_prev.reshape(nc, C, 1)[:, 0]  # (*batch, nc, D): s_{i−1} · S_{c−1}
    return _chunk_scan(xb, before, a, scale, keep, take).flatten(-3, -2)[..., :T, :]  # (*batch, T, D)


def chunked_linear_attention(
    phi_Q: torch.Tensor,
    phi_K: torch.Tensor,
    V: torch.Tensor,
    *,
    chunk: int = 64,
    normalize: bool = False,
    eps: float = 0.0,
) -> torch.Tensor:
    r"""y_i = Σ_{j<=i} v_j (φk_j · φq_i), optionally divided by Σ_{j<=i} φk_j · φq_i (+ eps), in chunks.

    Inputs are already feature-mapped: ``phi_Q, phi_K: (*batch, T, D_k)``, ``V: (*batch, T, D_v)``. Padding adds
    zero features, which write nothing. Cost O(T·chunk·D + T·D_k·D_v) time, O(T/chunk · D_k·D_v) memory.

    The normaliser rides along in the same matmuls: a column of ones after V makes its sums Σ φk_j · φq_i, so the
    state carries z = Σ φk_j as its last column and no separate pass computes it.
    """
    T, D_v = phi_Q.shape[-2], V.shape[-1]
    if T == 0:
        return V.new_zeros(V.shape)
    if normalize:
        V = torch.cat([V, V.new_ones((*V.shape[:-1], 1))], dim=-1)  # (*batch, T, D_v + 1): v_j and 1
    q = query_blocks(phi_Q, block=chunk)  # (*batch, nc, C, D_k)
    k = query_blocks(phi_K, block=chunk)  # (*batch, nc, C, D_k)
    v = query_blocks(V, block=chunk)  # (*batch, nc, C, D_v (+ 1))
    # inside a chunk: A_ij = φq_i · φk_j for j <= i
    causal = torch.ones(chunk, chunk, dtype=V.dtype, device=V.device).tril()  # (C, C), 1 where j <= i
    A = (q @ k.transpose(-1, -2)).mul_(causal)  # (*batch, nc, C, C), in place on a fresh product
    # one state per chunk, S_c = Σ_{j in c} φk_j v_jᵀ, summed over the chunks up to c (inclusive prefix sum)
    S = prefix_sum(k.transpose(-1, -2) @ v, dim=-3)  # (*batch, nc, D_k, D_v (+ 1))
    # chunk c reads the sum up to c − 1. The last chunk's sum is read by nobody: zeroed, it is the state "before
    # chunk 0" of the next batch row once batch and chunks share one axis (so shifting by one row is exact)
    S[..., -1, :, :] = 0.0
    # (B·nc − 1, D_k, D_v (+ 1)): the state before chunks 1 .. B·nc − 1
    S_prev = S.reshape(-1, *S.shape[-2:])[:-1]
    # y_i = Σ_{j<=i in c} A_ij v_j + φq_i S_before(c): the second term added in place (chunk 0 has none)
    out = (A @ v).reshape(-1, chunk, V.shape[-1])  # (B·nc, C, D_v (+ 1))
    out[1:].baddbmm_(q.reshape(-1, chunk, q.shape[-1])[1:], S_prev)
    out = out.reshape(v.shape).flatten(-3, -2)[..., :T, :]  # (*batch, T, D_v (+ 1))
    if not normalize:
        return out  # (*batch, T, D_v)
    # the last column is the normaliser φq_i · z_i = Σ_{j<=i} φk_j · φq_i
    return out[..., :D_v] / out[..., D_v:].add(eps)  # (*batch, T, D_v)
