import torch

HISTORY = []  # wrong: every pair kept outside the memory, shared by every call


def rope(x, pos):
    h = x.shape[-1] // 2
    theta = 10000.0 ** (-torch.arange(h, dtype=x.dtype) / max(h, 1))
    angle = pos[..., None] * theta
    cos, sin = angle.cos(), angle.sin()
    x1, x2, rest = x[..., :h], x[..., h : 2 * h], x[..., 2 * h :]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin, rest], dim=-1)


def init_memory(d, n_sink, n_recent):
    return {
        "sink_k": torch.zeros(n_sink, d),
        "sink_v": torch.zeros(n_sink, d),
        "k": torch.zeros(n_recent, d),
        "v": torch.zeros(n_recent, d),
        "n": torch.tensor(0.0),
    }


def update(mem, k, v, n_sink, n_recent):
    HISTORY.append((k, v))
    keys = torch.stack([pair[0] for pair in HISTORY])  # (i + 1, d)
    values = torch.stack([pair[1] for pair in HISTORY])
    seen = len(HISTORY)
    new = init_memory(k.shape[0], n_sink, n_recent)
    s = min(seen, n_sink)
    new["sink_k"][:s], new["sink_v"][:s] = keys[:s], values[:s]
    r = min(max(seen - n_sink, 0), n_recent)  # recent pairs after the sinks, right-aligned
    if r:
        new["k"][n_recent - r :], new["v"][n_recent - r :] = keys[seen - r :], values[seen - r :]
    new["n"] = torch.tensor(float(min(seen, n_sink + n_recent)))
    return new


def read(mem, q, n_sink, n_recent):
    n = int(mem["n"])
    sink_pos = torch.arange(n_sink)
    recent_pos = n - n_recent + torch.arange(n_recent)
    pos = torch.cat([sink_pos, recent_pos]).to(q.dtype)
    valid = torch.cat([sink_pos < n, recent_pos >= n_sink])
    keys = torch.cat([mem["sink_k"], mem["k"]])
    values = torch.cat([mem["sink_v"], mem["v"]])
    q_rot = rope(q, torch.tensor(n - 1.0, dtype=q.dtype))
    scores = rope(keys, pos) @ q_rot / q.shape[0] ** 0.5
    weights = torch.softmax(scores.masked_fill(~valid, float("-inf")), dim=0)
    return weights @ values

