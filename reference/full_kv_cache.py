r"""Full KV cache: the growing baseline that every other memory model replaces.

Idea: keep every key-value pair seen so far. The "update" appends the new pair at the end of the cache, so the
memory is the whole history, and reading it is ordinary causal softmax attention over everything cached. It fits
the recurrence Mem_i = f((k_i, v_i), Mem_{i-1}) formally, but the state grows by one pair per token; that growth is
what fixed-size memories (windows, averages, fast weights) trade accuracy to avoid.

Recurrence and read-out (0-based positions, as in the book):

    Mem_{-1} = (empty, empty),    Mem_i = (K_{<=i}, V_{<=i}) = (cat(K_{<=i-1}, k_i), cat(V_{<=i-1}, v_i)),
    y_i = softmax(q_i K_{<=i}ᵀ / √d) V_{<=i}.

State ``{"k": (*batch, t, d), "v": (*batch, t, d_v)}``: row j holds the pair of token j, oldest first, so after
step i the cache has t = i + 1 rows. Mem_{-1} has t = 0 rows. Reading the empty memory is undefined (a softmax over
no keys); every read here comes after at least one step.

Shapes: ``step`` takes ``k: (*batch, d)``, ``v: (*batch, d_v)``; ``scan`` takes ``K, V: (*batch, T, D)`` and,
because the state has no fixed shape to stack over time, returns only the final state (``parallel`` is None: the
final state *is* the input, and the stack of every state would cost O(T² d) memory).

Cost: O(i·d) per step (the read; ``torch.cat`` also copies the cache, O(i·d), where a real decoder pre-allocates),
O(n² d) in total, O(n d) memory. The parallel read-out is causal attention: 2·T²·d flops (half of the T × T
scores), computed by a flash-style kernel that never holds the T × T matrix.

Source: T. Xiao and J. Zhu, "Foundations of Large Language Models", arXiv 2501.09223, ch. 2; A. Vaswani et al.,
"Attention Is All You Need", NeurIPS 2017.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

from reference.registry import ModelSpec, State, batch_shape, check_sequences, register


def full_kv_cache_init(
    d: int,
    *,
    batch: Sequence[int] = (),
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    d_v: int | None = None,
) -> State:
    """Mem_{-1}: an empty cache, zero rows of keys and values. ``d_v`` defaults to ``d``."""
    batch = tuple(batch)
    return {
        "k": torch.zeros((*batch, 0, d), dtype=dtype, device=device),  # (*batch, 0, d)
        "v": torch.zeros(
            (*batch, 0, d if d_v is None else d_v), dtype=dtype, device=device
        ),  # (*batch, 0, d_v)
    }


def full_kv_cache_step(mem: State, k: torch.Tensor, v: torch.Tensor) -> State:
    """Mem_i: Mem_{i-1} with (k_i, v_i) appended as the newest row. Pure; broadcasts over leading batch dims."""
    dtype = torch.promote_types(mem["k"].dtype, torch.promote_types(k.dtype, v.dtype))
    batch = batch_shape(mem["k"].shape[:-2], k.shape[:-1], v.shape[:-1])
    t = mem["k"].shape[-2]
    old_k = mem["k"].to(dtype).expand(*batch, t, mem["k"].shape[-1])  # (*batch, t, d)
    old_v = mem["v"].to(dtype).expand(*batch, t, mem["v"].shape[-1])  # (*batch, t, d_v)
    # K_{<=i} = cat(K_{<=i-1}, k_i)
    new_k = torch.cat(
        [old_k, k.to(dtype).expand(*batch, k.shape[-1]).unsqueeze(-2)], dim=-2
    )  # (*batch, t+1, d)
    # V_{<=i} = cat(V_{<=i-1}, v_i)
    new_v = torch.cat(
        [old_v, v.to(dtype).expand(*batch, v.shape[-1]).unsqueeze(-2)], dim=-2
    )  # (*batch, t+1, d_v)
    return {"k": new_k, "v": new_v}


def full_kv_cache_read(mem: State, q: torch.Tensor) -> torch.Tensor:
    """Att(q, Mem) = softmax(q Kᵀ / √d) V over every cached pair; ``q: (*batch, d)`` -> ``(*batch, d_v)``."""
    dtype = torch.promote_types(mem["k"].dtype, q.dtype)
    # s_j = q · k_j / √d for every cached row j
    scores = (mem["k"].to(dtype) @ q.to(dtype).unsqueeze(-1)).squeeze(-1) / q.shape[-1] ** 0.5  # (*batch, t)
    # α = softmax(s) over the t rows
    weights = torch.softmax(scores, dim=-1)  # (*batch, t)
    # y = Σ_j α_j v_j
    return (weights.unsqueeze(-2) @ mem["v"].to(dtype)).squeeze(-2)  # (*batch, d_v)


def full_kv_cache_scan(K: torch.Tensor, V: torch.Tensor) -> State:
    """The specification: ``step`` over t = 0..T-1; returns the final state (a growing memory has no stack)."""
    dtype = check_sequences(K, V)
    *batch, T, D = K.shape
    mem = full_kv_cache_init(D, batch=batch, dtype=dtype, device=K.device, d_v=V.shape[-1])
    for t in range(T):
        mem = full_kv_cache_step(mem, K[..., t, :], V[..., t, :])  # k: (*batch, t+1, D)
    return mem


def full_kv_cache_attend_parallel(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """Every read-out at once: causal softmax attention, y_i = softmax(q_i K_{<=i}ᵀ / √d) V_{<=i}.

    ``scaled_dot_product_attention(is_causal=True)`` runs a flash-style kernel (on CPU too) that walks key blocks
    with a running max and sum, so memory stays O(T·d), never T × T. Returns ``(*batch, T, D_v)``.
    """
    dtype = torch.promote_types(check_sequences(K, V), check_sequences(Q, V))
    if Q.shape[-2] == 0:
        return V.to(dtype).clone()  # (*batch, 0, D_v)
    # Y = softmax(mask_causal(Q Kᵀ / √d)) V
    return F.scaled_dot_product_attention(
        Q.to(dtype), K.to(dtype), V.to(dtype), is_causal=True
    )  # (*batch, T, D_v)


def _attend_cost(T: int, d: int, hp: Mapping[str, int | float]) -> tuple[float, float]:
    """Causal attention: Q Kᵀ and A V over the T²/2 visible pairs, 2 · 2·(T²/2)·d flops; read Q, K, V, write Y."""
    del hp
    return 2.0 * 2.0 * (T * T / 2) * d, 4.0 * 4 * T * d


SPEC = register(
    ModelSpec(
        id="full-kv-cache",
        title="Full KV cache (standard causal attention)",
        hyperparams={},
        state_layout={"k": ("t", "d"), "v": ("t", "d")},
        fixed_size=False,
        cost_per_step="O(i d)",
        cost_total="O(n^2 d)",
        init=full_kv_cache_init,
        step=full_kv_cache_step,
        read=full_kv_cache_read,
        scan=full_kv_cache_scan,
        parallel=None,
        attend_parallel=full_kv_cache_attend_parallel,
        parallel_form="causal flash attention",
        parallel_cost=_attend_cost,
        paper="Vaswani et al. 2017; Xiao & Zhu 2025, ch. 2",
    )
)
