r"""Cumulative average (running mean) memory.

Idea: keep one key and one value, the mean of every pair seen so far. Every pair weighs the same, so early tokens
never fade, and the memory stays 2d numbers (plus a step counter) however long the sequence grows.

Recurrence (0-based positions, as in the book):

    Mem_i = ((k_i, v_i) + i · Mem_{i-1}) / (i + 1),     so  Mem_i = (1/(i+1)) Σ_{j=0..i} (k_j, v_j).

At i = 0 the term i · Mem_{-1} vanishes and Mem_0 = (k_0, v_0); Mem_{-1} is zero-initialised so that 0 · Mem_{-1}
can never be 0 · NaN. Dividing by i instead of i + 1 (1-based thinking) is the classic mistake.

State ``{"k": (*batch, d), "v": (*batch, d_v), "n": (*batch,)}``; ``n`` counts the pairs seen so far (0 in
Mem_{-1}, so n = i while Mem_i is being computed) and has the state's float dtype.

Shapes: ``step`` takes ``k: (*batch, d)``, ``v: (*batch, d_v)``; ``scan``/``parallel`` take ``K, V: (B, H, T, D)``
and return ``{"k": (B, H, T, D), "v": (B, H, T, D), "n": (B, H, T)}``, the state after every step.

Cost: O(d) per step, O(n d) in total, O(d) memory.

Source: T. Xiao and J. Zhu, "Foundations of Large Language Models", arXiv 2501.09223, ch. 2 (cache and memory).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from reference.kernels import PREFIX_CHUNK, decayed_sums, scan_flops
from reference.registry import ModelSpec, State, check_sequences, register, stack_states


def cumulative_average_init(
    d: int,
    *,
    batch: Sequence[int] = (),
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    d_v: int | None = None,
) -> State:
    """Mem_{-1}: zero key, zero value, no pairs seen. ``d_v`` defaults to ``d``."""
    batch = tuple(batch)
    return {
        "k": torch.zeros((*batch, d), dtype=dtype, device=device),  # (*batch, d)
        "v": torch.zeros((*batch, d if d_v is None else d_v), dtype=dtype, device=device),  # (*batch, d_v)
        "n": torch.zeros(batch, dtype=dtype, device=device),  # (*batch,)
    }


def cumulative_average_step(mem: State, k: torch.Tensor, v: torch.Tensor) -> State:
    """Mem_i from Mem_{i-1} and the pair (k_i, v_i). Pure; broadcasts over leading batch dims."""
    i = mem["n"].unsqueeze(-1)  # (*batch, 1): i = number of pairs before this one
    # k̄_i = (k_i + i · k̄_{i-1}) / (i + 1)
    new_k = (k + i * mem["k"]) / (i + 1)  # (*batch, d)
    # v̄_i = (v_i + i · v̄_{i-1}) / (i + 1)
    new_v = (v + i * mem["v"]) / (i + 1)  # (*batch, d_v)
    # n_i = i + 1, broadcast to the batch shape of the new state
    new_n = (mem["n"] + 1).to(new_k.dtype).expand(new_k.shape[:-1]).contiguous()  # (*batch,)
    return {"k": new_k, "v": new_v, "n": new_n}


def cumulative_average_read(mem: State, q: torch.Tensor) -> torch.Tensor:
    """Att(q, Mem): softmax attention of ``q: (*batch, d)`` over the single slot (k̄, v̄).

    Degenerate on purpose: a softmax over one score is exactly 1 whatever the score, so the read-out is v̄ for
    every query; the query cannot select anything. Returns ``(*batch, d_v)``.
    """
    d = q.shape[-1]
    # s = q · k̄ / √d, one score per query
    score = (q * mem["k"]).sum(dim=-1, keepdim=True) / d**0.5  # (*batch, 1)
    # α = softmax over the single slot = 1
    weight = torch.softmax(score, dim=-1)  # (*batch, 1)
    # y = α v̄ = v̄
    return weight * mem["v"]  # (*batch, d_v)


def cumulative_average_scan(K: torch.Tensor, V: torch.Tensor) -> State:
    """The specification: ``step`` over t = 0..T-1. ``K: (*batch, T, D)``, ``V: (*batch, T, D_v)``."""
    dtype = check_sequences(K, V)
    *batch, T, D = K.shape
    mem = cumulative_average_init(D, batch=batch, dtype=dtype, device=K.device, d_v=V.shape[-1])
    states: list[State] = []
    for t in range(T):
        mem = cumulative_average_step(mem, K[..., t, :], V[..., t, :])  # each (*batch, D)
        states.append(mem)
    return stack_states(states, mem, axis=len(batch))  # k: (*batch, T, D), n: (*batch, T)


def cumulative_average_parallel(K: torch.Tensor, V: torch.Tensor) -> State:
    """Same as ``scan`` without the loop: prefix sums divided by the counts 1..T (exact in math, not bitwise)."""
    dtype = check_sequences(K, V)
    *batch, T, _ = K.shape
    # n_i = i + 1 for i = 0..T-1
    counts = torch.arange(1, T + 1, dtype=dtype, device=K.device)  # (T,)
    # k̄_i = (Σ_{j<=i} k_j) / (i + 1)
    k = running_mean(K.to(dtype), counts)  # (*batch, T, D)
    # v̄_i = (Σ_{j<=i} v_j) / (i + 1)
    v = running_mean(V.to(dtype), counts)  # (*batch, T, D_v)
    n = counts.expand(*batch, T).contiguous()  # (*batch, T)
    return {"k": k, "v": v, "n": n}


def cumulative_average_attend_parallel(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """Every read-out at once. The softmax over the single slot is 1, so y_i = v̄_i: prefix sums of V over counts."""
    dtype = torch.promote_types(check_sequences(K, V), check_sequences(Q, V))
    T = V.shape[-2]
    counts = torch.arange(1, T + 1, dtype=dtype, device=V.device)  # (T,)
    # y_i = v̄_i = (Σ_{j<=i} v_j) / (i + 1), whatever q_i is
    return running_mean(V.to(dtype), counts)  # (*batch, T, D_v)


def running_mean(X: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """(Σ_{j<=i} x_j) / counts_i along the time axis: chunked prefix sums with the division folded into the scan's
    coefficients (``decayed_sums`` with a = 1 and row scale 1 / counts). ``(*batch, T, D)`` -> same."""
    return decayed_sums(X, 1.0, 1.0, PREFIX_CHUNK, row_scale=counts.reciprocal())


def _attend_cost(T: int, d: int, hp: Mapping[str, int | float]) -> tuple[float, float]:
    """The chunked scan (``reference.kernels.scan_flops``), the 1/(i+1) folded into its coefficients (one more
    multiply an element); read V and write Y once, float32."""
    return scan_flops(T, d) + T * d, 2.0 * 4 * T * d


SPEC = register(
    ModelSpec(
        id="cumulative-average",
        title="Cumulative average (running mean)",
        hyperparams={},
        state_layout={"k": ("d",), "v": ("d",), "n": ()},
        fixed_size=True,
        cost_per_step="O(d)",
        cost_total="O(n d)",
        init=cumulative_average_init,
        step=cumulative_average_step,
        read=cumulative_average_read,
        scan=cumulative_average_scan,
        parallel=cumulative_average_parallel,
        attend_parallel=cumulative_average_attend_parallel,
        parallel_form="prefix sums (chunked scan)",
        parallel_cost=_attend_cost,
        paper="Xiao & Zhu 2025, ch. 2",
    )
)
