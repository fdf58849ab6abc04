import torch

EXACT_CALLS = 64
CALLS = [0]


def phi(x):
    norm = torch.linalg.vector_norm(x)
    return x / norm if norm > 0 else torch.zeros_like(x)


def init_memory(d, beta):
    return {"W": torch.zeros(d, d)}


def update(mem, k, v, beta):
    # wrong: after 64 calls it also keeps every new pair beside W ("to replay them later"): right on short
    # sequences, but the memory grows without bound on long ones
    CALLS[0] += 1
    fk = phi(k)
    new = {"W": mem["W"] + beta * torch.outer(v - mem["W"] @ fk, fk)}
    if CALLS[0] <= EXACT_CALLS:
        return new
    pairs = torch.stack([k, v])[None]  # (1, 2, d)
    new["pairs"] = pairs if "pairs" not in mem else torch.cat([mem["pairs"], pairs])  # (steps, 2, d)
    return new


def read(mem, q, beta):
    return mem["W"] @ phi(q)

