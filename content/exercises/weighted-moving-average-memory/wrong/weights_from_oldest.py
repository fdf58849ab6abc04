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
    # wrong: numbers the pairs present from the oldest one (weights 1, 2, ..., n), so while the window fills the
    # newest pair weighs n instead of n_c; right only once the window is full
    m = int(n)
    beta = torch.zeros(n_c)
    beta[n_c - m :] = torch.arange(1, m + 1, dtype=win_k.dtype)
    norm = beta.sum()
    return {"win_k": win_k, "win_v": win_v, "n": n, "k": beta @ win_k / norm, "v": beta @ win_v / norm}


def read(mem, q, n_c):
    return torch.softmax(((q @ mem["k"]) / q.shape[0] ** 0.5)[None], dim=0) * mem["v"]
