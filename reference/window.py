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
``reference.kernels.band_attention`` is that blocking with one shared mask and the fused softmax kernel; ``window_attend_naive`` is the full masked T × T version, for short sequences only.

Cost: O(n_c·d) per step, O(n·n_c·d) in total, O(n_c·d) memory.

Sources: Xiao & Zhu, "Foundations of Large Language Models", arXiv 2501.09223, ch. 2 (window-based cache);
I. Beltagy, M. Peters, A. Cohan, "Longformer", arXiv 2004.05150, §3.1; A. Jiang et al., "Mistral 7B",
arXiv 2310.06825, §2 (sliding window attention, rolling buffer cache).
"""

from __future__ import annotations

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
    batch = batch_shape(mem["k"].shape[:-2], k.shape[:-1], v.shape[:-1])
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
        paper="Beltagy et al. 2020; Jiang et al. 2023",
    )
)
