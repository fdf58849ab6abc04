"""Attention sinks: the first tokens kept for good plus a window of recent ones (reference solution, never shown
to students)."""

import torch


def rope(x, pos):
    # rotate-half RoPE: with h = d // 2, the pair (x_j, x_{j+h}) is turned by the angle pos * 10000^(-j/h);
    # an odd last coordinate is left as it is. x: (..., d), pos: (...,)
    h = x.shape[-1] // 2
    theta = 10000.0 ** (-torch.arange(h, dtype=x.dtype) / max(h, 1))  # (h,)
    angle = pos[..., None] * theta  # (..., h)
    cos, sin = angle.cos(), angle.sin()
    x1, x2, rest = x[..., :h], x[..., h : 2 * h], x[..., 2 * h :]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin, rest], dim=-1)  # (..., d)


def init_memory(d, n_sink, n_recent):
    # Mem_{-1}: every slot empty (zeros), nothing cached
    return {
        "sink_k": torch.zeros(n_sink, d),  # (S, d)
        "sink_v": torch.zeros(n_sink, d),  # (S, d)
        "k": torch.zeros(n_recent, d),  # (W, d), oldest first, newest in the last row
        "v": torch.zeros(n_recent, d),  # (W, d)
        "n": torch.tensor(0.0),  # () pairs cached
    }


def update(mem, k, v, n_sink, n_recent):
    n = int(mem["n"])  # pairs cached before this one
    new = dict(mem)  # a new dict; the tensors below are new too, the old ones are never written
    if n < n_sink:
        # token i = n < S goes into sink slot n, for good
        new["sink_k"] = torch.cat([mem["sink_k"][:n], k[None], mem["sink_k"][n + 1 :]])  # (S, d)
        new["sink_v"] = torch.cat([mem["sink_v"][:n], v[None], mem["sink_v"][n + 1 :]])  # (S, d)
    else:
        # later tokens shift into the recent FIFO: the oldest recent pair falls out of row 0
        new["k"] = torch.cat([mem["k"][1:], k[None]])  # (W, d)
        new["v"] = torch.cat([mem["v"][1:], v[None]])  # (W, d)
    # n_i = min(n_{i-1} + 1, S + W)
    new["n"] = torch.tensor(float(min(n + 1, n_sink + n_recent)))  # ()
    return new


def read(mem, q, n_sink, n_recent):
    n = int(mem["n"])
    # cache positions: sink s at s (valid if s < n), recent row j at n - W + j (valid if >= S)
    sink_pos = torch.arange(n_sink)
    recent_pos = n - n_recent + torch.arange(n_recent)
    pos = torch.cat([sink_pos, recent_pos]).to(q.dtype)  # (S + W,)
    valid = torch.cat([sink_pos < n, recent_pos >= n_sink])  # (S + W,)
    keys = torch.cat([mem["sink_k"], mem["k"]])  # (S + W, d)
    values = torch.cat([mem["sink_v"], mem["v"]])  # (S + W, d)
    # s_j = rope(q, n - 1) · rope(k_j, p_j) / √d: the query sits at the newest cached position
    q_rot = rope(q, torch.tensor(n - 1.0, dtype=q.dtype))  # (d,)
    scores = rope(keys, pos) @ q_rot / q.shape[0] ** 0.5  # (S + W,)
    weights = torch.softmax(scores.masked_fill(~valid, float("-inf")), dim=0)  # (S + W,)
    # y = Σ_j w_j v_j over the valid cached pairs
    return weights @ values  # (d,)
