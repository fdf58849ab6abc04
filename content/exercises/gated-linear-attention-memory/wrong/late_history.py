import torch

EXACT_CALLS = 64
CALLS = [0]


def init_memory(d, gamma):
    return {"M": torch.zeros(d, d)}


def update(mem, k, v, gamma):
    # wrong: after 64 calls it also keeps every new pair beside M ("to try another gamma later"): right on short
    # sequences, but the memory grows without bound on long ones
    CALLS[0] += 1
    M = gamma * mem["M"] + torch.outer(v, k)  # (d, d)
    if CALLS[0] <= EXACT_CALLS:
        return {"M": M}
    pairs = torch.stack([k, v])[None]  # (1, 2, d)
    history = pairs if "pairs" not in mem else torch.cat([mem["pairs"], pairs])  # (steps, 2, d)
    return {"M": M, "pairs": history}


def read(mem, q, gamma):
    return mem["M"] @ q
