import torch

FALLBACK_AFTER = 64
CALLS = [0]


def init_memory(d):
    return {"k": torch.zeros(d), "v": torch.zeros(d), "n": torch.tensor(0.0)}


def update(mem, k, v):
    # wrong: the running mean is right, but the list was kept "as a fallback": from call 64 on every pair is also
    # carried in the memory, to recompute the mean exactly if it ever drifts. Right on short sequences, a memory
    # that grows without bound on long ones
    CALLS[0] += 1
    i = mem["n"]
    new = {"k": (k + i * mem["k"]) / (i + 1), "v": (v + i * mem["v"]) / (i + 1), "n": i + 1}
    if CALLS[0] <= FALLBACK_AFTER:
        return new
    pairs = torch.stack([k, v])[None]  # (1, 2, d)
    new["pairs"] = pairs if "pairs" not in mem else torch.cat([mem["pairs"], pairs])  # (steps, 2, d)
    return new


def read(mem, q):
    score = (q * mem["k"]).sum(dim=0, keepdim=True) / q.shape[0] ** 0.5
    return torch.softmax(score, dim=0) * mem["v"]
