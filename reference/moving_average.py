r"""Moving-average cache: the mean of the last n_c pairs (book §2.3); its weighted sibling is ``weighted_moving_average``.

Idea: instead of caching the last n_c keys and values (a window cache, n_c × 2), summarise them as ONE key and ONE
value, their mean (the book's "1 × 2" memory). The unweighted form gives every pair in the window the weight
1/n_c; the weighted form gives the newest pair the largest weight, β_1 < … < β_{n_c} with β_{n_c} on the newest.

Recurrence (0-based positions; the window of step i is j = max(0, i−n_c+1) .. i, so it holds m_i = min(i+1, n_c)
pairs):

    unweighted:  Mem_i = (1/m_i) Σ_j (k_j, v_j)
    weighted:    Mem_i = Σ_j β_{n_c−i+j} (k_j, v_j) / Σ_j β_{n_c−i+j}      (β_{n_c} on j = i, the newest)

Warm-up convention: while the window is not full (i < n_c − 1), divide by the pairs present: m_i for the
unweighted mean, the sum of the m_i most recent weights β_{n_c−i} .. β_{n_c} for the weighted one (never by n_c,
never by the full Σβ). The weighted model uses the linear ramp β_j = j; any positive ``weights`` of length n_c
may be passed instead. Book example (n_c = 3): keys [1,2], [3,4], [5,6], [7,8] give the key [5,6] at the card's
"step 4", which is i = 3 here (the fourth pair; the window holds i = 1, 2, 3).

Why the state is bigger than the book's 1 × 2: a sliding mean cannot be updated from the mean alone, because the
pair that leaves the window is needed (Mem_i = Mem_{i−1} + (k_i − k_{i−n_c})/n_c). So the state holds the window
buffer as well, and ``step`` recomputes the means from it (exact; no running sum that drifts):
``{"win_k": (*batch, n_c, d), "win_v": (*batch, n_c, d_v), "n": (*batch,), "k": (*batch, d), "v": (*batch, d_v)}``.
The buffer is in time order, oldest first, newest last, right-aligned (zeros in front while not full); ``n`` = m_i
counts the valid pairs; ``k``, ``v`` are the means. The read is a softmax over the single slot (k̄, v̄), which is
exactly 1, so every query reads v̄: degenerate on purpose, as for the cumulative average.

Cost: O(n_c d) per step (O(d) with a running sum, at the price of drift), O(n n_c d) in total, O(n_c d) memory.
Parallel forms: the unweighted window sum as the prefix sum of the differences x_j − x_{j−n_c} (a chunked scan),
O(n d); the weighted one by a Toeplitz weight matrix per block of queries, O(n (block + n_c) d). Never by a
difference of two long prefix sums of x: in float32 with an offset of 1000 over 10^5 steps that loses the answer
(error 1.47); the prefix sums of the differences are themselves window sums and stay within 4e-4 there.

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
    scan_states,
    step_state,
    window_mean,
)
from reference.kernels import PREFIX_CHUNK, n_blocks, scan_flops
from reference.registry import ModelSpec, State, check_sequences, register


def moving_average_init(
    d: int,
    *,
    batch: Sequence[int] = (),
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    d_v: int | None = None,
    n_c: int = 3,
) -> State:
    """Mem_{-1}: empty (zero) buffers, no pairs, zero means. ``d_v`` defaults to ``d``."""
    return init_state(d, batch, dtype, device, d_v, n_c)


def moving_average_step(mem: State, k: torch.Tensor, v: torch.Tensor, *, n_c: int = 3) -> State:
    """Mem_i from Mem_{i-1} and (k_i, v_i): shift the buffers; k̄, v̄ = buffer sums / min(i+1, n_c). Pure."""
    return step_state(mem, k, v, n_c, None, weighted=False)


def moving_average_read(mem: State, q: torch.Tensor, *, n_c: int = 3) -> torch.Tensor:
    """Att(q, Mem) over the single slot (k̄, v̄): the softmax weight is 1, so v̄ for every query."""
    del n_c
    return read_single_slot(mem, q)


def moving_average_scan(K: torch.Tensor, V: torch.Tensor, *, n_c: int = 3) -> State:
    """The specification: ``step`` over t = 0..T-1. ``K: (*batch, T, D)``, ``V: (*batch, T, D_v)``."""
    return scan_states(K, V, n_c, None, weighted=False)


def moving_average_parallel(K: torch.Tensor, V: torch.Tensor, *, n_c: int = 3) -> State:
    """Every state without a loop: buffers by ``unfold``, means by block-local window sums over m_i."""
    dtype = check_sequences(K, V)
    return parallel_states(K.to(dtype), V.to(dtype), n_c, None, BLOCK)


def moving_average_attend_parallel(
    Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, *, n_c: int = 3
) -> torch.Tensor:
    """Every read-out: y_i = v̄_i = (Σ_{window} v_j) / m_i, whatever q_i is. ``(*batch, T, D_v)``."""
    dtype = torch.promote_types(check_sequences(K, V), check_sequences(Q, V))
    return window_mean(V.to(dtype), n_c, None, BLOCK)  # (*batch, T, D_v)


def _attend_cost(T: int, d: int, hp: Mapping[str, int | float]) -> tuple[float, float]:
    """The differences (1 flop an element), then ``decayed_sums`` (``reference.kernels.scan_flops``); read V,
    write Y."""
    padded = n_blocks(T, PREFIX_CHUNK) * PREFIX_CHUNK
    return 1.0 * T * d + scan_flops(padded, d), 2.0 * 4 * T * d


SPEC = register(
    ModelSpec(
        id="moving-average",
        title="Moving-average cache (window mean)",
        hyperparams=dict(N_C),
        state_layout=dict(LAYOUT),
        fixed_size=True,
        cost_per_step="O(n_c d)",
        cost_total="O(n n_c d)",
        init=moving_average_init,
        step=moving_average_step,
        read=moving_average_read,
        scan=moving_average_scan,
        parallel=moving_average_parallel,
        attend_parallel=moving_average_attend_parallel,
        parallel_form="prefix sums of window differences (chunked scan)",
        parallel_cost=_attend_cost,
        paper="Xiao & Zhu 2025, ch. 2",
    )
)
