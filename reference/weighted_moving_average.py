r"""Weighted moving-average cache: the recency-weighted mean of the last n_c pairs (book §2.3).

The weights β_1 < … < β_{n_c} favour the newest pair (β_{n_c} on j = i); this model uses the linear ramp β_j = j,
and every function also takes any positive ``weights`` of length n_c. While the window is not yet full the pairs
present carry the most recent weights and are normalised by their sum (never by n_c, never by the full Σβ):

    Mem_i = Σ_j β_{n_c−i+j} (k_j, v_j) / Σ_j β_{n_c−i+j},   j = max(0, i−n_c+1) .. i.

The state, the single-slot read and the reason the window buffer is part of the state are those of
``reference.moving_average`` (same layout, shared core in ``reference._window_mean``). Parallel form: a Toeplitz
weight matrix per block of queries, ``(block × (block + n_c − 1)) @ (block + n_c − 1, d)``, O(n (block + n_c) d),
never T × T. Wrong variants worth catching: weights applied oldest-heaviest (reversed), or normalised by n_c.

Source: T. Xiao and J. Zhu, "Foundations of Large Language Models", arXiv 2501.09223, ch. 2 (cache and memory).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from reference._window_mean import (
    BLOCK,
    LAYOUT,
    N_C,
    init_state,
    parallel_states,
    read_single_slot,
    recency_weights,
    scan_states,
    step_state,
    window_mean,
)
from reference.kernels import n_blocks
from reference.registry import ModelSpec, State, check_sequences, register


def weighted_moving_average_init(
    d: int,
    *,
    batch: Sequence[int] = (),
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    d_v: int | None = None,
    n_c: int = 3,
    weights: torch.Tensor | None = None,
) -> State:
    """Mem_{-1}: empty (zero) buffers, no pairs, zero means. ``d_v`` defaults to ``d``."""
    del weights
    return init_state(d, batch, dtype, device, d_v, n_c)


def weighted_moving_average_step(
    mem: State, k: torch.Tensor, v: torch.Tensor, *, n_c: int = 3, weights: torch.Tensor | None = None
) -> State:
    """Mem_i from Mem_{i-1} and (k_i, v_i): shift the buffers; k̄, v̄ = Σ β buf / Σβ of the slots present. Pure."""
    return step_state(mem, k, v, n_c, weights, weighted=True)


def weighted_moving_average_read(
    mem: State, q: torch.Tensor, *, n_c: int = 3, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Att(q, Mem) over the single slot (k̄, v̄): the softmax weight is 1, so v̄ for every query."""
    del n_c, weights
    return read_single_slot(mem, q)


def weighted_moving_average_scan(
    K: torch.Tensor, V: torch.Tensor, *, n_c: int = 3, weights: torch.Tensor | None = None
) -> State:
    """The specification: ``step`` over t = 0..T-1. ``K: (*batch, T, D)``, ``V: (*batch, T, D_v)``."""
    return scan_states(K, V, n_c, weights, weighted=True)


def weighted_moving_average_parallel(
    K: torch.Tensor, V: torch.Tensor, *, n_c: int = 3, weights: torch.Tensor | None = None, block: int = BLOCK
) -> State:
    """Every state without a loop: buffers by ``unfold``, weighted sums by blocked Toeplitz matmuls."""
    dtype = check_sequences(K, V)
    K, V = K.to(dtype), V.to(dtype)
    return parallel_states(K, V, n_c, recency_weights(weights, n_c, K), block)


def weighted_moving_average_attend_parallel(
    Q: torch.Tensor,
    K: torch.Tensor,
    V: torch.Tensor,
    *,
    n_c: int = 3,
    weights: torch.Tensor | None = None,
    block: int = BLOCK,
) -> torch.Tensor:
    """Every read-out: y_i = v̄_i, the weighted window mean of V (q_i does not matter). ``(*batch, T, D_v)``."""
    dtype = torch.promote_types(check_sequences(K, V), check_sequences(Q, V))
    V = V.to(dtype)
    return window_mean(V, n_c, recency_weights(weights, n_c, V), block)  # (*batch, T, D_v)


def _weighted_attend_cost(T: int, d: int, hp: Mapping[str, int | float]) -> tuple[float, float]:
    """A (block × (block + n_c − 1)) @ (block + n_c − 1, d) matmul per query block, zeros included; read V, write Y."""
    n_c, block = int(hp.get("n_c", 3)), min(BLOCK, max(T, 1))
    return 2.0 * n_blocks(T, block) * block * (block + n_c - 1) * d + T * d, 2.0 * 4 * T * d


SPEC = register(
    ModelSpec(
        id="weighted-moving-average",
        title="Weighted moving-average cache (recency-weighted window mean)",
        hyperparams=dict(N_C),
        state_layout=dict(LAYOUT),
        fixed_size=True,
        cost_per_step="O(n_c d)",
        cost_total="O(n n_c d)",
        init=weighted_moving_average_init,
        step=weighted_moving_average_step,
        read=weighted_moving_average_read,
        scan=weighted_moving_average_scan,
        parallel=weighted_moving_average_parallel,
        attend_parallel=weighted_moving_average_attend_parallel,
        parallel_form="blocked Toeplitz matmul",
        parallel_cost=_weighted_attend_cost,
        paper="Xiao & Zhu 2025, ch. 2",
    )
)
