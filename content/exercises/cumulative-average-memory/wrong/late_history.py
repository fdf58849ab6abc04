import torch

EXACT_CALLS = 64
CALLS = [0]


def init_memory(d):
    return {"k": torch.zeros(d), "v": torch.zeros(d), "n": torch.tensor(0.0)}


def update(mem, k, v):
    # wrong: after 64 calls it also keeps every pair ("to recompute the mean exactly later"): right on short
    # sequences, but the memory grows without bound on long ones
    CALLS[0] += 1
    i = mem["n"]
    new = {"k": (k + i * mem["k"]) / (i + 1), "v": (v + i * mem["v"]) / (i + 1), "n": i + 1}
    if CALLS[0] <= EXACT_CALLS:
        return new
    pairs = torch.stack([k, v])[None]  # (1, 2, d)
    new["pairs"] = pairs if "pairs" not in mem else torch.cat([mem["pairs"], pairs])  # (steps, 2, d)
    return new
