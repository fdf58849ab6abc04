import torch


def init_memory(d, n_c):
    return {"k": torch.zeros(n_c, d), "v": torch.zeros(n_c, d), "n": torch.tensor(0.0)}


def update(mem, k, v, n_c):
    # wrong: appends the new pair but never drops the oldest one, so the buffer grows (a full KV cache)
    new_k = torch.cat([mem["k"], k[None]])
    new_v = torch.cat([mem["v"], v[None]])
    return {"k": new_k, "v": new_v, "n": torch.clamp(mem["n"] + 1, max=n_c)}


def read(mem, q, n_c):
    valid = torch.arange(n_c) >= n_c - mem["n"]
    scores = (mem["k"] @ q / q.shape[0] ** 0.5).masked_fill(~valid, float("-inf"))
    return torch.softmax(scores, dim=0) @ mem["v"]
