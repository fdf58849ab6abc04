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
    # wrong: averages the OLD buffer plus the new pair, i.e. positions i - n_c .. i: n_c + 1 pairs once full
    count = torch.clamp(mem["n"] + 1, max=n_c + 1)
    mean_k = (mem["win_k"].sum(dim=0) + k) / count
    mean_v = (mem["win_v"].sum(dim=0) + v) / count
    return {"win_k": win_k, "win_v": win_v, "n": n, "k": mean_k, "v": mean_v}


def read(mem, q, n_c):
    return torch.softmax(((q @ mem["k"]) / q.shape[0] ** 0.5)[None], dim=0) * mem["v"]
