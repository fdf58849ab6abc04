import torch

SEEN = []  # wrong: every pair kept outside the memory, shared by every call


def init_memory(d, n_m, c, n_cm):
    return {
        "k": torch.zeros(n_m, d),
        "v": torch.zeros(n_m, d),
        "n": torch.tensor(0.0),
        "ck": torch.zeros(n_cm, d),
        "cv": torch.zeros(n_cm, d),
        "cn": torch.tensor(0.0),
    }


def update(mem, k, v, n_m, c, n_cm):
    SEEN.append((k, v))
    i = len(SEEN) - 1
    g = (i - n_m) // c + 1 if i >= n_m else 0  # groups of c evicted so far
    new = init_memory(k.shape[0], n_m, c, n_cm)
    local = SEEN[g * c :]  # Mem: positions g·c .. i
    for row, (kj, vj) in enumerate(local, start=n_m - len(local)):
        new["k"][row], new["v"][row] = kj, vj
    groups = range(max(0, g - n_cm), g)  # CMem: the last n_cm groups
    for row, j in enumerate(groups, start=n_cm - len(groups)):
        new["ck"][row] = torch.stack([p[0] for p in SEEN[j * c : (j + 1) * c]]).mean(dim=0)
        new["cv"][row] = torch.stack([p[1] for p in SEEN[j * c : (j + 1) * c]]).mean(dim=0)
    new["n"] = torch.tensor(float(len(local)))
    new["cn"] = torch.tensor(float(len(groups)))
    return new


def read(mem, q, n_m, c, n_cm):
    keys = torch.cat([mem["ck"], mem["k"]])
    values = torch.cat([mem["cv"], mem["v"]])
    valid = torch.cat([torch.arange(n_cm) >= n_cm - mem["cn"], torch.arange(n_m) >= n_m - mem["n"]])
    scores = (keys @ q / q.shape[0] ** 0.5).masked_fill(~valid, float("-inf"))
    return torch.softmax(scores, dim=0) @ values
