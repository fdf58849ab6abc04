r"""Shared parallel kernels: blocked (banded) softmax attention and chunked linear attention.

Two shapes of work recur across the memory models, so they live here once and the model modules call them with
their own visibility rule:

* **Blocked attention** (window, segment recurrence, attention sinks, hybrid cache, full cache): queries are cut
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
    Xp = _pad_time(X, 0, nb * block - T)  # (*batch, nb·block, D)
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


def _exclusive_cumsum(X: torch.Tensor, *, dim: int) -> torch.Tensor:
    """Σ_{c' < c} X_{c'} along ``dim`` (zero for the first): a shifted cumsum, no subtraction."""
    total = X.cumsum(dim=dim)
    zero = torch.zeros_like(X.narrow(dim, 0, 1))
    return torch.cat([zero, total.narrow(dim, 0, X.shape[dim] - 1)], dim=dim)


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
    """
    T = phi_Q.shape[-2]
    if T == 0:
        return V.new_zeros(V.shape)
    q = query_blocks(phi_Q, block=chunk)  # (*batch, nc, C, D_k)
    k = query_blocks(phi_K, block=chunk)  # (*batch, nc, C, D_k)
    v = query_blocks(V, block=chunk)  # (*batch, nc, C, D_v)
    # inside a chunk: A_ij = φq_i · φk_j for j <= i
    causal = torch.ones(chunk, chunk, dtype=torch.bool, device=V.device).tril()  # (C, C)
    A = (q @ k.transpose(-1, -2)).masked_fill(~causal, 0.0)  # (*batch, nc, C, C)
    # one state per chunk, S_c = Σ_{j in c} φk_j v_jᵀ, and the sum over the chunks before: exclusive prefix sum
    S = k.transpose(-1, -2) @ v  # (*batch, nc, D_k, D_v)
    S_before = _exclusive_cumsum(S, dim=-3)  # (*batch, nc, D_k, D_v)
    # y_i = φq_i S_before(c) + Σ_{j<=i in c} A_ij v_j
    out = q @ S_before + A @ v  # (*batch, nc, C, D_v)
    if normalize:
        # the same split for the normaliser z: φq_i · (z_before(c) + Σ_{j<=i in c} φk_j)
        z = k.sum(dim=-2)  # (*batch, nc, D_k)
        z_before = _exclusive_cumsum(z, dim=-2)  # (*batch, nc, D_k)
        den = (q @ z_before.unsqueeze(-1)).squeeze(-1) + A.sum(dim=-1)  # (*batch, nc, C)
        out = out / (den.unsqueeze(-1) + eps)
    return out.flatten(-3, -2)[..., :T, :]  # (*batch, T, D_v)
