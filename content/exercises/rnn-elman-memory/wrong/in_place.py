import torch


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
    # wrong: the new states are right, but they are written into the tensors of the memory it was given
    d = k.shape[0]
    mem["k"].copy_(cell(k, mem["k"], elman_weights(d, seed, 0)))
    mem["v"].copy_(cell(v, mem["v"], elman_weights(d, seed, 1)))
    return mem


def read(mem, q, seed):
    s = (q @ mem["k"] / q.shape[0] ** 0.5).reshape(1)
    return torch.softmax(s, dim=0) * mem["v"]

