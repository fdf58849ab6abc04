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
    # wrong: mean_i = mean_{i-1} + (x_i - mean_{i-1}) / n: exact while the window fills, but once it is full the
    # pair that leaves should be subtracted, not the old mean (this is an exponential average with weight 1/n_c)
    return {
        "win_k": win_k,
        "win_v": win_v,
        "n": n,
        "k": mem["k"] + (k - mem["k"]) / n,
        "v": mem["v"] + (v - mem["v"]) / n,
    }


def read(mem, q, n_c):
    return torch.softmax(((q @ mem["k"]) / q.shape[0] ** 0.5)[None], dim=0) * mem["v"]
