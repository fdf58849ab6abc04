import torch

EXACT_CALLS = 64
CALLS = [0]


def init_memory(d, n_c):
    return {"k": torch.zeros(n_c, d), "v": torch.zeros(n_c, d), "n": torch.tensor(0.0)}


def update(mem, k, v, n_c):
    # wrong: after 64 calls it also keeps every pair ("to look further back later"): right on short sequences,
    # but the memory grows without bound on long ones
    CALLS[0] += 1
    new = {
        "k": torch.cat([mem["k"][1:], k[None]]),
        "v": torch.cat([mem["v"][1:], v[None]]),
        "n": torch.clamp(mem["n"] + 1, max=n_c),
    }
    if CALLS[0] <= EXACT_CALLS:
        return new
    pairs = torch.stack([k, v])[None]  # (1, 2, d)
    new["pairs"] = pairs if "pairs" not in mem else torch.cat([mem["pairs"], pairs])  # (steps, 2, d)
    return new


def read(mem, q, n_c):
    valid = torch.arange(n_c) >= n_c - mem["n"]
    scores = (mem["k"] @ q / q.shape[0] ** 0.5).masked_fill(~valid, float("-inf"))
    return torch.softmax(scores, dim=0) @ mem["v"]
