r"""Exponential moving average (EMA) memory: one key and one value that forget the past geometrically.

Idea: keep one summary key and one summary value. Every new pair is mixed in with weight α and everything already
in the memory is scaled by 1 − α, so a pair seen j steps ago weighs α(1 − α)^j: recent tokens dominate and early
tokens fade exponentially (unlike the cumulative average, where every pair keeps the weight 1/(i+1)). This is the
plain EMA behind the "damped EMA" of Mega, here used as a book-style memory with a fixed 2d-number state.

Recurrence (0-based positions, Mem_{-1} = 0):

    Mem_i = α (k_i, v_i) + (1 − α) Mem_{i−1},      so  Mem_i = Σ_{j=0..i} α (1 − α)^{i−j} (k_j, v_j).

With Mem_{-1} = 0 the start is biased towards zero (α = 0.5, inputs 4, 8, 0 give 2, 5, 2.5); the other common
convention, Mem_0 = (k_0, v_0), gives 4, 6, 3, and is NOT the one used here. No bias correction (Adam-style) either.
Edge cases: α = 1 keeps only the newest pair (no memory); α = 0 never moves from zero.

State ``{"k": (*batch, d), "v": (*batch, d_v)}``. The read is a softmax over the single slot (k̄, v̄), which is
exactly 1, so every query reads v̄: degenerate on purpose, as for the cumulative average.

Cost: O(d) per step, O(n d) in total, O(d) memory. Parallel form: the convolution of the sequence with the kernel
α(1 − α)^j, done as a chunked scan (a C × C decay matrix inside each chunk, the chunk-end states carried by the same
scan one level up with decay (1 − α)^C). Only non-negative powers of 1 − α appear, so nothing overflows, and
nothing is T × T.

Papers: X. Ma et al., "Mega: Moving Average Equipped Gated Attention", ICLR 2023 (arXiv 2209.10655), §2–3;
T. Xiao and J. Zhu, "Foundations of Large Language Models", arXiv 2501.09223, ch. 2 (cache and memory).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from reference.kernels import decayed_sums, n_blocks, scan_flops
from reference.registry import HyperParam, ModelSpec, State, check_sequences, register, stack_states

CHUNK = 16  # positions per chunk of the parallel form (tuned at T = 65536, d = 64 on a 2-core CPU)


def ema_init(
    d: int,
    *,
    batch: Sequence[int] = (),
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    d_v: int | None = None,
    alpha: float = 0.5,
) -> State:
    """Mem_{-1} = 0: a zero key ``(*batch, d)`` and a zero value ``(*batch, d_v)``; ``d_v`` defaults to ``d``."""
    del alpha
    batch = tuple(batch)
    return {
        "k": torch.zeros((*batch, d), dtype=dtype, device=device),  # (*batch, d)
        "v": torch.zeros((*batch, d if d_v is None else d_v), dtype=dtype, device=device),  # (*batch, d_v)
    }


def ema_step(mem: State, k: torch.Tensor, v: torch.Tensor, *, alpha: float = 0.5) -> State:
    """Mem_i from Mem_{i-1} and the pair (k_i, v_i). Pure; broadcasts over leading batch dims."""
    # k̄_i = α k_i + (1 − α) k̄_{i−1}
    new_k = alpha * k + (1 - alpha) * mem["k"]  # (*batch, d)
    # v̄_i = α v_i + (1 − α) v̄_{i−1}
    new_v = alpha * v + (1 - alpha) * mem["v"]  # (*batch, d_v)
    return {"k": new_k, "v": new_v}


def ema_read(mem: State, q: torch.Tensor, *, alpha: float = 0.5) -> torch.Tensor:
    """Att(q, Mem) over the single slot (k̄, v̄): the softmax weight is 1, so v̄ for every query. ``(*batch, d_v)``."""
    del alpha
    # s = q · k̄ / √d, one score
    score = (q * mem["k"]).sum(dim=-1, keepdim=True) / q.shape[-1] ** 0.5  # (*batch, 1)
    # y = softmax(s) v̄ = v̄
    return torch.softmax(score, dim=-1) * mem["v"]  # (*batch, d_v)


def ema_scan(K: torch.Tensor, V: torch.Tensor, *, alpha: float = 0.5) -> State:
    """The specification: ``step`` over t = 0..T-1. ``K: (*batch, T, D)``, ``V: (*batch, T, D_v)``."""
    dtype = check_sequences(K, V)
    *batch, T, D = K.shape
    mem = ema_init(D, batch=batch, dtype=dtype, device=K.device, d_v=V.shape[-1])
    states: list[State] = []
    for t in range(T):
        mem = ema_step(mem, K[..., t, :], V[..., t, :], alpha=alpha)  # each (*batch, D)
        states.append(mem)
    return stack_states(states, mem, axis=len(batch))  # k: (*batch, T, D)


def ema_parallel(K: torch.Tensor, V: torch.Tensor, *, alpha: float = 0.5, chunk: int = CHUNK) -> State:
    """Every state without a loop over tokens: the chunked scan of K and of V."""
    dtype = check_sequences(K, V)
    return {
        "k": decayed_sums(K.to(dtype), 1 - alpha, alpha, chunk),  # (*batch, T, D)
        "v": decayed_sums(V.to(dtype), 1 - alpha, alpha, chunk),  # (*batch, T, D_v)
    }


def ema_attend_parallel(
    Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, *, alpha: float = 0.5, chunk: int = CHUNK
) -> torch.Tensor:
    """Every read-out: y_i = v̄_i = Σ_{j<=i} α(1 − α)^{i−j} v_j, whatever q_i is. ``(*batch, T, D_v)``."""
    dtype = torch.promote_types(check_sequences(K, V), check_sequences(Q, V))
    return decayed_sums(V.to(dtype), 1 - alpha, alpha, chunk)  # (*batch, T, D_v)


def _attend_cost(T: int, d: int, hp: Mapping[str, int | float]) -> tuple[float, float]:
    """The chunked scan (``reference.kernels.scan_flops``) on the padded sequence; read V and write Y once."""
    C = min(CHUNK, max(T, 2))
    return scan_flops(n_blocks(T, C) * C, d, C), 2.0 * 4 * T * d


SPEC = register(
    ModelSpec(
        id="ema",
        title="Exponential moving average (EMA)",
        hyperparams={"alpha": HyperParam("float", 0.0, 1.0, 0.5)},
        state_layout={"k": ("d",), "v": ("d",)},
        fixed_size=True,
        cost_per_step="O(d)",
        cost_total="O(n d)",
        init=ema_init,
        step=ema_step,
        read=ema_read,
        scan=ema_scan,
        parallel=ema_parallel,
        attend_parallel=ema_attend_parallel,
        parallel_form="chunked scan (decayed chunk totals, then one op a row)",
        parallel_cost=_attend_cost,
        paper="Ma et al. 2023 (Mega); Xiao & Zhu 2025, ch. 2",
    )
)
