import torch

EXACT_CALLS = 64
CALLS = [0]


def elman_weights(h, seed, role):
    g = torch.Generator().manual_seed(2 * seed + role)
    bound = h**-0.5
    shapes = [(h, h), (h, h), (h,), (h,)]
    return [(torch.rand(s, generator=g, dtype=torch.float64) * (2 * bound) - bound).float() for s in shapes]


def cell(x, h, weights):
    W, U, b_W, b_U = weights
    return torch.tanh(W @ x + b_W + U @ h + b_U)


def init_memory(d, seed):
    return {"k": torch.zeros(d), "v": torch.zeros(d)}


def update(mem, k, v, seed):
    # wrong: after 64 calls it also keeps every pair ("to replay the cells later"): right on short sequences,
    # but the memory grows without bound on long ones
    CALLS[0] += 1
    d = k.shape[0]
    new = {"k": cell(k, mem["k"], elman_weights(d, seed, 0)), "v": cell(v, mem["v"], elman_weights(d, seed, 1))}
    if CALLS[0] <= EXACT_CALLS:
        return new
    pairs = torch.stack([k, v])[None]  # (1, 2, d)
    new["pairs"] = pairs if "pairs" not in mem else torch.cat([mem["pairs"], pairs])  # (steps, 2, d)
    return new


def read(mem, q, seed):
    s = (q @ mem["k"] / q.shape[0] ** 0.5).reshape(1)
    return torch.softmax(s, dim=0) * mem["v"]

