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
    win_k = torch.cat([mem["win_k"][1:], k[None]])
    win_v = torch.cat([mem["win_v"][1:], v[None]])
    n = torch.clamp(mem["n"] + 1, max=n_c)
    # wrong: a running sum (old mean times old count, plus the new pair) that never subtracts the pair leaving
    # the window (mem["win_k"][0] once it is full): right while the window fills, too big afterwards
    sum_k = mem["k"] * mem["n"] + k
    sum_v = mem["v"] * mem["n"] + v
    return {"win_k": win_k, "win_v": win_v, "n": n, "k": sum_k / n, "v": sum_v / n}


def read(mem, q, n_c):
    return torch.softmax(((q @ mem["k"]) / q.shape[0] ** 0.5)[None], dim=0) * mem["v"]
