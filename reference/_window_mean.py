"""The shared core of the two moving-average caches (``moving_average`` and ``weighted_moving_average``).

A private module (not a model: ``reference/__init__`` skips names starting with "_"): the state layout, one step
that shifts the window buffer and recomputes the (weighted) means, the single-slot read, the loop, and the
parallel window sums. The models' docstrings explain the recurrence and the conventions.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from reference.kernels import PREFIX_CHUNK, decayed_sums, key_blocks
from reference.registry import HyperParam, State, check_sequences, stack_states

BLOCK = 64  # queries per Toeplitz block of the weighted parallel form (tuned at T = 65536, d = 64, n_c = 256)


def recency_weights(weights: torch.Tensor | None, n_c: int, like: torch.Tensor) -> torch.Tensor:
    """β_1..β_{n_c} (the newest last) in ``like``'s dtype and device; ``None`` is the ramp β_j = j."""
    if weights is None:
        return torch.arange(1, n_c + 1, dtype=like.dtype, device=like.device)  # (n_c,)
    if weights.shape != (n_c,):
        raise ValueError(f"weights must have shape ({n_c},), got {tuple(weights.shape)}")
    return weights.to(dtype=like.dtype, device=like.device)  # (n_c,)


def init_state(
    d: int, batch: Sequence[int], dtype: torch.dtype, device: torch.device | str, d_v: int | None, n_c: int
) -> State:
    batch, d_v = tuple(batch), d if d_v is None else d_v
    zeros = {
        "win_k": (*batch, n_c, d),
        "win_v": (*batch, n_c, d_v),
        "n": batch,
        "k": (*batch, d),
        "v": (*batch, d_v),
    }
    return {name: torch.zeros(shape, dtype=dtype, device=device) for name, shape in zeros.items()}


def window_average(win: torch.Tensor, n: torch.Tensor, beta: torch.Tensor | None) -> torch.Tensor:
    """The (weighted) mean of one right-aligned buffer ``(*batch, n_c, D)`` holding ``n`` pairs -> ``(*batch, D)``."""
    if beta is None:
        # x̄_i = (1/m_i) Σ_{slots} buf_s   (the empty slots in front are zeros)
        return win.sum(dim=-2) / n[..., None]  # (*batch, D)
    n_c = win.shape[-2]
    # slot s (0-based) carries β_{s+1}; Σβ over the m_i slots present, the rightmost ones
    present = torch.arange(n_c, device=win.device) >= n_c - n[..., None]  # (*batch, n_c)
    norm = (beta * present).sum(dim=-1, keepdim=True)  # (*batch, 1)
    # x̄_i = Σ_s β_{s+1} buf_s / Σ_{s present} β_{s+1}
    return (beta @ win) / norm  # (*batch, D)


def step_state(
    mem: State, k: torch.Tensor, v: torch.Tensor, n_c: int, weights: torch.Tensor | None, weighted: bool
) -> State:
    """Shift the buffers, append (k_i, v_i) on the right, recompute the (weighted) means from the buffers."""
    if mem["win_k"].shape[-2] != n_c:
        raise ValueError(f"the state holds a window of {mem['win_k'].shape[-2]}, not n_c = {n_c}")
    dtype = torch.promote_types(mem["win_k"].dtype, torch.promote_types(k.dtype, v.dtype))
    # the batch shape of the new state: the state's and the pair's batch dims broadcast
    batch = (mem["n"][..., None] + k[..., :1] + v[..., :1]).shape[:-1]

    def shift(win: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        # buf_i = cat(buf_{i−1}[1:], x_i): the oldest row leaves on the left, the newest enters on the right
        old = win[..., 1:, :].to(dtype).expand(*batch, n_c - 1, win.shape[-1])  # (*batch, n_c − 1, D)
        new = x.to(dtype).expand(*batch, x.shape[-1]).unsqueeze(-2)  # (*batch, 1, D)
        return torch.cat([old, new], dim=-2)  # (*batch, n_c, D)

    win_k, win_v = shift(mem["win_k"], k), shift(mem["win_v"], v)
    # m_i = min(i + 1, n_c): the pairs present
    n = (mem["n"].to(dtype) + 1).clamp(max=n_c).expand(batch).contiguous()  # (*batch,)
    beta = recency_weights(weights, n_c, win_k) if weighted else None  # (n_c,) or None
    return {
        "win_k": win_k,
        "win_v": win_v,
        "n": n,
        "k": window_average(win_k, n, beta),
        "v": window_average(win_v, n, beta),
    }


def read_single_slot(mem: State, q: torch.Tensor) -> torch.Tensor:
    """softmax over the single slot (k̄, v̄) is 1, so y = v̄ whatever q is. ``q: (*batch, d)`` -> ``(*batch, d_v)``."""
    # s = q · k̄ / √d, one score
    score = (q * mem["k"]).sum(dim=-1, keepdim=True) / q.shape[-1] ** 0.5  # (*batch, 1)
    # y = softmax(s) v̄ = v̄
    return torch.softmax(score, dim=-1) * mem["v"]  # (*batch, d_v)


def scan_states(
    K: torch.Tensor, V: torch.Tensor, n_c: int, weights: torch.Tensor | None, weighted: bool
) -> State:
    """The loop of ``step_state`` over t = 0..T-1, states stacked on the time axis."""
    dtype = check_sequences(K, V)
    *batch, T, D = K.shape
    mem = init_state(D, batch, dtype, K.device, V.shape[-1], n_c)
    states: list[State] = []
    for t in range(T):
        mem = step_state(mem, K[..., t, :], V[..., t, :], n_c, weights, weighted)  # win_k: (*batch, n_c, D)
        states.append(mem)
    return stack_states(states, mem, axis=len(batch))  # win_k: (*batch, T, n_c, D), n: (*batch, T)


def parallel_states(
    K: torch.Tensor, V: torch.Tensor, n_c: int, beta: torch.Tensor | None, block: int
) -> State:
    """Every state at once: the buffers by ``unfold``, the means by ``window_mean`` (no loop over tokens)."""
    *batch, T, _ = K.shape
    n = counts(T, n_c, K)  # (T,)
    return {
        "win_k": windows(K, n_c),  # (*batch, T, n_c, D)
        "win_v": windows(V, n_c),  # (*batch, T, n_c, D_v)
        "n": n.expand(*batch, T).contiguous(),  # (*batch, T)
        "k": window_mean(K, n_c, beta, block),  # (*batch, T, D)
        "v": window_mean(V, n_c, beta, block),  # (*batch, T, D_v)
    }


def windows(X: torch.Tensor, n_c: int) -> torch.Tensor:
    """Every buffer at once: ``(*batch, T, D) -> (*batch, T, n_c, D)``, right-aligned with zeros in front."""
    if X.shape[-2] == 0:
        return X.new_zeros((*X.shape[:-1], n_c, X.shape[-1]))  # (*batch, 0, n_c, D)
    padded = F.pad(X, (0, 0, n_c - 1, 0))  # (*batch, n_c − 1 + T, D)
    return padded.unfold(-2, n_c, 1).transpose(-1, -2).contiguous()  # (*batch, T, n_c, D)


def window_sum_mean(X: torch.Tensor, n_c: int) -> torch.Tensor:
    """(1/m_i) Σ_{j=i−n_c+1..i} x_j for every i (x_j = 0 for j < 0, m_i = min(i + 1, n_c)): ``(*batch, T, D)``.

    The window sum is the prefix sum of the differences δ_j = x_j − x_{j−n_c}: Σ_{j<=i} δ_j telescopes to
    Σ_{j=i−n_c+1..i} x_j. Those prefix sums are ``decayed_sums`` with no decay (a chunked scan, the 1/n_c folded
    into the chunk matrix), so the whole form is one subtraction pass and one scan: O(T·D), whatever n_c is.
    Unlike a difference of two prefix sums of x (whose partial sums grow with T and cancel), every partial sum
    here is itself a window sum; what does grow is the rounding of the δ_j, as a random walk: about
    √T · ε · |x| in all (float32 at T = 2^20, d = 64: 8e-7 of the largest mean, against 4e-8 for sums kept inside
    blocks of n_c, which took 2.5× as long). The first n_c − 1 rows, whose windows are not yet full, are then
    rescaled from 1/n_c to 1/m_i.
    """
    T = X.shape[-2]
    head = min(n_c, T)  # rows whose δ_j is x_j itself (nothing leaves the window yet)
    delta = torch.empty_like(X)  # (*batch, T, D)
    delta[..., :head, :] = X[..., :head, :]
    # δ_j = x_j − x_{j−n_c} for j >= n_c
    torch.sub(X[..., n_c:, :], X[..., : T - head, :], out=delta[..., head:, :])
    # (1/n_c) Σ_{j<=i} δ_j
    Y = decayed_sums(delta, 1.0, 1.0 / n_c, PREFIX_CHUNK, overwrite=True)  # (*batch, T, D), in delta's memory
    # rows i < n_c hold Σ / n_c: make it Σ / (i + 1)
    Y[..., :head, :] *= (n_c / counts(head, n_c, X))[:, None]
    return Y


def weighted_window_sum(X: torch.Tensor, beta: torch.Tensor, block: int) -> torch.Tensor:
    """Σ_{lag<n_c} β_{n_c−lag} x_{i−lag} for every i: one (block × (block+n_c−1)) Toeplitz matmul per query block."""
    (n_c,), (T, D) = beta.shape, X.shape[-2:]
    if T == 0:
        return X.clone()
    block = min(block, T)
    keys = key_blocks(X, block=block, lookback=n_c - 1)  # (*batch, nb, W, D), W = block + n_c − 1
    keys = keys.reshape(-1, *keys.shape[-2:])  # (B·nb, W, D)
    # query a of a block sees key j of its window at lag a + n_c − 1 − j: M[a, j] = β_{n_c−lag} = beta[j − a]
    offset = torch.arange(keys.shape[-2], device=X.device) - torch.arange(block, device=X.device)[:, None]
    M = torch.where((offset >= 0) & (offset < n_c), beta[offset.clamp(0, n_c - 1)], 0.0)  # (block, W)
    Y = torch.bmm(M.expand(keys.shape[0], -1, -1), keys)  # (B·nb, block, D)
    return Y.reshape(*X.shape[:-2], -1, D)[..., :T, :]  # (*batch, T, D)


def window_mean(X: torch.Tensor, n_c: int, beta: torch.Tensor | None, block: int) -> torch.Tensor:
    """Every window mean: the windowed sum divided by m_i (unweighted) or by Σβ of the pairs present (weighted)."""
    T = X.shape[-2]
    if beta is None:
        return window_sum_mean(X, n_c)  # (*batch, T, D)
    # Σβ over the m_i most recent weights β_{n_c−m_i+1} .. β_{n_c}: tail[m − 1] = β_{n_c} + … + β_{n_c−m+1}
    tail = beta.flip(0).cumsum(0)  # (n_c,)
    norm = tail[counts(T, n_c, X).long() - 1]  # (T,)
    return weighted_window_sum(X, beta, block).div_(norm[:, None])  # (*batch, T, D)


def counts(T: int, n_c: int, like: torch.Tensor) -> torch.Tensor:
    """m_i = min(i + 1, n_c) for i = 0..T−1: the pairs in the window. ``(T,)``."""
    return torch.arange(1, T + 1, dtype=like.dtype, device=like.device).clamp(max=n_c)


LAYOUT = {"win_k": ("n_c", "d"), "win_v": ("n_c", "d"), "n": (), "k": ("d",), "v": ("d",)}
N_C = {"n_c": HyperParam("int", 1, 8192, 3)}
