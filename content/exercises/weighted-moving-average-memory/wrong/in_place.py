import torch


def init_memory(d, n_c):
    return {
        "win_k": torch.zeros(n_c, d),
        "win_v": torch.zeros(n_c, d),
        "n": torch.tensor(0.0),
        "k": torch.zeros(d),
        "v": torch.zeros(d),
    }


def update(mem, k, v, n_c):
    # wrong: the values are right, but the buffers of the memory it was given are shifted in place and the new
    # count and means are stored into the same dict
    mem["win_k"][:-1] = mem["win_k"][1:].clone()
    mem["win_k"][-1] = k
    mem["win_v"][:-1] = mem["win_v"][1:].clone()
    mem["win_v"][-1] = v
    mem["n"] = torch.clamp(mem["n"] + 1, max=n_c)
    beta = torch.arange(1, n_c + 1, dtype=k.dtype)
    norm = (beta * (torch.arange(n_c) >= n_c - mem["n"])).sum()
    mem["k"] = beta @ mem["win_k"] / norm
    mem["v"] = beta @ mem["win_v"] / norm
    return mem


def read(mem, q, n_c):
    return torch.softmax(((q @ mem["k"]) / q.shape[0] ** 0.5)[None], dim=0) * mem["v"]
