r"""Moving-average cache: the mean of the last n_c pairs, unweighted or weighted by recency (book §2.3).

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
Parallel forms: the unweighted window sum by block-local prefix and suffix sums (van Herk / Gil-Werman), O(n d);
the weighted one by a Toeplitz weight matrix per block of queries, O(n (block + n_c) d). Never by a difference of
two long prefix sums: in float32 with an offset of 1000 over 10^5 steps that loses the answer (error 1.47).

Source: T. Xiao and J. Zhu, "Foundations of Large Language Models", arXiv 2501.09223, ch. 2 (cache and memory).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

from reference.kernels import key_blocks, n_blocks, query_blocks
from reference.registry import HyperParam, ModelSpec, State, check_sequences, register, stack_states

BLOCK = 64  # queries per Toeplitz block of the weighted parallel form (tuned at T = 65536, d = 64, n_c = 256)


def _beta(weights: torch.Tensor | None, n_c: int, like: torch.Tensor) -> torch.Tensor:
    """β_1..β_{n_c} (the newest last) in ``like``'s dtype and device; ``None`` is the ramp β_j = j."""
    if weights is None:
        return torch.arange(1, n_c + 1, dtype=like.dtype, device=like.device)  # (n_c,)
    if weights.shape != (n_c,):
        raise ValueError(f"weights must have shape ({n_c},), got {tuple(weights.shape)}")
    return weights.to(dtype=like.dtype, device=like.device)  # (n_c,)


def _init(
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


def _mean(win: torch.Tensor, n: torch.Tensor, beta: torch.Tensor | None) -> torch.Tensor:
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


def _step(
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
    beta = _beta(weights, n_c, win_k) if weighted else None  # (n_c,) or None
    return {"win_k": win_k, "win_v": win_v, "n": n, "k": _mean(win_k, n, beta), "v": _mean(win_v, n, beta)}


def _read(mem: State, q: torch.Tensor) -> torch.Tensor:
    """softmax over the single slot (k̄, v̄) is 1, so y = v̄ whatever q is. ``q: (*batch, d)`` -> ``(*batch, d_v)``."""
    # s = q · k̄ / √d, one score
    score = (q * mem["k"]).sum(dim=-1, keepdim=True) / q.shape[-1] ** 0.5  # (*batch, 1)
    # y = softmax(s) v̄ = v̄
    return torch.softmax(score, dim=-1) * mem["v"]  # (*batch, d_v)


def _scan(K: torch.Tensor, V: torch.Tensor, n_c: int, weights: torch.Tensor | None, weighted: bool) -> State:
    """The loop of ``_step`` over t = 0..T-1, states stacked on the time axis."""
    dtype = check_sequences(K, V)
    *batch, T, D = K.shape
    mem = _init(D, batch, dtype, K.device, V.shape[-1], n_c)
    states: list[State] = []
    for t in range(T):
        mem = _step(mem, K[..., t, :], V[..., t, :], n_c, weights, weighted)  # win_k: (*batch, n_c, D)
        states.append(mem)
    return stack_states(states, mem, axis=len(batch))  # win_k: (*batch, T, n_c, D), n: (*batch, T)


def _parallel(K: torch.Tensor, V: torch.Tensor, n_c: int, beta: torch.Tensor | None, block: int) -> State:
    """Every state at once: the buffers by ``unfold``, the means by ``_window_mean`` (no loop over tokens)."""
    *batch, T, _ = K.shape
    n = _counts(T, n_c, K)  # (T,)
    return {
        "win_k": _windows(K, n_c),  # (*batch, T, n_c, D)
        "win_v": _windows(V, n_c),  # (*batch, T, n_c, D_v)
        "n": n.expand(*batch, T).contiguous(),  # (*batch, T)
        "k": _window_mean(K, n_c, beta, block),  # (*batch, T, D)
        "v": _window_mean(V, n_c, beta, block),  # (*batch, T, D_v)
    }


def _windows(X: torch.Tensor, n_c: int) -> torch.Tensor:
    """Every buffer at once: ``(*batch, T, D) -> (*batch, T, n_c, D)``, right-aligned with zeros in front."""
    if X.shape[-2] == 0:
        return X.new_zeros((*X.shape[:-1], n_c, X.shape[-1]))  # (*batch, 0, n_c, D)
    padded = F.pad(X, (0, 0, n_c - 1, 0))  # (*batch, n_c − 1 + T, D)
    return padded.unfold(-2, n_c, 1).transpose(-1, -2).contiguous()  # (*batch, T, n_c, D)


def _window_sum(X: torch.Tensor, n_c: int) -> torch.Tensor:
    """Σ_{j=i−n_c+1..i} x_j for every i (x_j = 0 for j < 0), accurately in O(T·D): ``(*batch, T, D)`` -> same.

    Cut the sequence into blocks of n_c. The window ending at offset r of block b is the part of block b up to r
    (P_b[r], a prefix sum inside the block) plus the part of block b−1 after r (its suffix sum: the block total
    minus P_{b−1}[r]). Every partial sum spans at most n_c terms, so the rounding error is that of an n_c-term
    sum however long the sequence is (a difference of two prefix sums over the whole sequence is not: it cancels
    digits that grow with T). O(T·D) work, no matter how large n_c is.
    """
    T, D = X.shape[-2:]
    if T == 0:
        return X.clone()
    # a fresh copy (it is summed in place) cut into blocks of n_c positions, the last one padded with zeros
    whole = T % n_c == 0
    S = X.reshape(*X.shape[:-2], T // n_c, n_c, D).clone() if whole else query_blocks(X, block=n_c)
    # P_b[r] = Σ_{s<=r} block_b[s], in place (faster than an out-of-place cumsum on CPU)
    S.cumsum_(dim=-2)  # (*batch, nb, n_c, D)
    # after_b[r] = P_b[n_c−1] − P_b[r]: the part of block b after offset r, for every block but the last
    after = S[..., :-1, -1:, :] - S[..., :-1, :, :]  # (*batch, nb − 1, n_c, D)
    # S_b[r] = P_b[r] + after_{b−1}[r]; block 0 has nothing before it (zeros before the sequence)
    S[..., 1:, :, :] += after
    return S.flatten(-3, -2)[..., :T, :]  # (*batch, T, D)


def _weighted_window_sum(X: torch.Tensor, beta: torch.Tensor, block: int) -> torch.Tensor:
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


def _window_mean(X: torch.Tensor, n_c: int, beta: torch.Tensor | None, block: int) -> torch.Tensor:
    """Every window mean: the windowed sum divided by m_i (unweighted) or by Σβ of the pairs present (weighted)."""
    T = X.shape[-2]
    if beta is None:
        return _window_sum(X, n_c).div_(_counts(T, n_c, X)[:, None])  # (*batch, T, D)
    # Σβ over the m_i most recent weights β_{n_c−m_i+1} .. β_{n_c}: tail[m − 1] = β_{n_c} + … + β_{n_c−m+1}
    tail = beta.flip(0).cumsum(0)  # (n_c,)
    norm = tail[_counts(T, n_c, X).long() - 1]  # (T,)
    return _weighted_window_sum(X, beta, block).div_(norm[:, None])  # (*batch, T, D)


def _counts(T: int, n_c: int, like: torch.Tensor) -> torch.Tensor:
    """m_i = min(i + 1, n_c) for i = 0..T−1: the pairs in the window. ``(T,)``."""
    return torch.arange(1, T + 1, dtype=like.dtype, device=like.device).clamp(max=n_c)


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
    return _init(d, batch, dtype, device, d_v, n_c)


def moving_average_step(mem: State, k: torch.Tensor, v: torch.Tensor, *, n_c: int = 3) -> State:
    """Mem_i from Mem_{i-1} and (k_i, v_i): shift the buffers; k̄, v̄ = buffer sums / min(i+1, n_c). Pure."""
    return _step(mem, k, v, n_c, None, weighted=False)


def moving_average_read(mem: State, q: torch.Tensor, *, n_c: int = 3) -> torch.Tensor:
    """Att(q, Mem) over the single slot (k̄, v̄): the softmax weight is 1, so v̄ for every query."""
    del n_c
    return _read(mem, q)


def moving_average_scan(K: torch.Tensor, V: torch.Tensor, *, n_c: int = 3) -> State:
    """The specification: ``step`` over t = 0..T-1. ``K: (*batch, T, D)``, ``V: (*batch, T, D_v)``."""
    return _scan(K, V, n_c, None, weighted=False)


def moving_average_parallel(K: torch.Tensor, V: torch.Tensor, *, n_c: int = 3) -> State:
    """Every state without a loop: buffers by ``unfold``, means by block-local window sums over m_i."""
    dtype = check_sequences(K, V)
    return _parallel(K.to(dtype), V.to(dtype), n_c, None, BLOCK)


def moving_average_attend_parallel(
    Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, *, n_c: int = 3
) -> torch.Tensor:
    """Every read-out: y_i = v̄_i = (Σ_{window} v_j) / m_i, whatever q_i is. ``(*batch, T, D_v)``."""
    dtype = torch.promote_types(check_sequences(K, V), check_sequences(Q, V))
    return _window_mean(V.to(dtype), n_c, None, BLOCK)  # (*batch, T, D_v)


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
    return _init(d, batch, dtype, device, d_v, n_c)


def weighted_moving_average_step(
    mem: State, k: torch.Tensor, v: torch.Tensor, *, n_c: int = 3, weights: torch.Tensor | None = None
) -> State:
    """Mem_i from Mem_{i-1} and (k_i, v_i): shift the buffers; k̄, v̄ = Σ β buf / Σβ of the slots present. Pure."""
    return _step(mem, k, v, n_c, weights, weighted=True)


def weighted_moving_average_read(
    mem: State, q: torch.Tensor, *, n_c: int = 3, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Att(q, Mem) over the single slot (k̄, v̄): the softmax weight is 1, so v̄ for every query."""
    del n_c, weights
    return _read(mem, q)


def weighted_moving_average_scan(
    K: torch.Tensor, V: torch.Tensor, *, n_c: int = 3, weights: torch.Tensor | None = None
) -> State:
    """The specification: ``step`` over t = 0..T-1. ``K: (*batch, T, D)``, ``V: (*batch, T, D_v)``."""
    return _scan(K, V, n_c, weights, weighted=True)


def weighted_moving_average_parallel(
    K: torch.Tensor, V: torch.Tensor, *, n_c: int = 3, weights: torch.Tensor | None = None, block: int = BLOCK
) -> State:
    """Every state without a loop: buffers by ``unfold``, weighted sums by blocked Toeplitz matmuls."""
    dtype = check_sequences(K, V)
    K, V = K.to(dtype), V.to(dtype)
    return _parallel(K, V, n_c, _beta(weights, n_c, K), block)


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
    return _window_mean(V, n_c, _beta(weights, n_c, V), block)  # (*batch, T, D_v)


def _attend_cost(T: int, d: int, hp: Mapping[str, int | float]) -> tuple[float, float]:
    """Block-local sums: cumsum, subtract, add, divide: 4 flops per (padded) element; read V, write Y."""
    n_c = int(hp.get("n_c", 3))
    return 4.0 * (1 + n_blocks(T, n_c)) * n_c * d, 2.0 * 4 * T * d


def _weighted_attend_cost(T: int, d: int, hp: Mapping[str, int | float]) -> tuple[float, float]:
    """A (block × (block + n_c − 1)) @ (block + n_c − 1, d) matmul per query block, zeros included; read V, write Y."""
    n_c, block = int(hp.get("n_c", 3)), min(BLOCK, max(T, 1))
    return 2.0 * n_blocks(T, block) * block * (block + n_c - 1) * d + T * d, 2.0 * 4 * T * d


_LAYOUT = {"win_k": ("n_c", "d"), "win_v": ("n_c", "d"), "n": (), "k": ("d",), "v": ("d",)}
_N_C = {"n_c": HyperParam("int", 1, 8192, 3)}

SPEC = register(
    ModelSpec(
        id="moving-average",
        title="Moving-average cache (window mean)",
        hyperparams=dict(_N_C),
        state_layout=dict(_LAYOUT),
        fixed_size=True,
        cost_per_step="O(n_c d)",
        cost_total="O(n n_c d)",
        init=moving_average_init,
        step=moving_average_step,
        read=moving_average_read,
        scan=moving_average_scan,
        parallel=moving_average_parallel,
        attend_parallel=moving_average_attend_parallel,
        parallel_form="block-local prefix/suffix window sums",
        parallel_cost=_attend_cost,
        bench_hp={"n_c": 256},
        paper="Xiao & Zhu 2025, ch. 2",
    )
)

WEIGHTED_SPEC = register(
    ModelSpec(
        id="weighted-moving-average",
        title="Weighted moving-average cache (recency-weighted window mean)",
        hyperparams=dict(_N_C),
        state_layout=dict(_LAYOUT),
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
        bench_hp={"n_c": 256},
        paper="Xiao & Zhu 2025, ch. 2",
    )
)
