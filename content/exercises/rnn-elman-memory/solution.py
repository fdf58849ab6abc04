"""The Elman recurrent cache (reference solution, never shown to students)."""

import torch


def elman_weights(h, seed, role):
    """The given weights [W, U, b_W, b_U] of one Elman cell of width h (role 0: the key cell, 1: the value cell)."""
    g = torch.Generator().manual_seed(2 * seed + role)
    bound = h**-0.5
    shapes = [(h, h), (h, h), (h,), (h,)]  # W, U, b_W, b_U, drawn in this order
    # uniform in [-1/sqrt(h), 1/sqrt(h)], drawn in float64, then cast to float32
    return [(torch.rand(s, generator=g, dtype=torch.float64) * (2 * bound) - bound).float() for s in shapes]


def elman_cell(x, h, weights):
    W, U, b_W, b_U = weights
    # h_i = tanh(W x_i + b_W + U h_{i-1} + b_U)
    return torch.tanh(W @ x + b_W + U @ h + b_U)  # (d,)


def init_memory(d, seed):
    # h_{-1} = 0 for both cells
    return {"k": torch.zeros(d), "v": torch.zeros(d)}


def update(mem, k, v, seed):
    d = k.shape[0]
    new_k = elman_cell(k, mem["k"], elman_weights(d, seed, role=0))  # the key cell runs over the keys
    new_v = elman_cell(v, mem["v"], elman_weights(d, seed, role=1))  # the value cell over the values
    return {"k": new_k, "v": new_v}


def read(mem, q, seed):
    # one slot: softmax over the single score s = q . k / sqrt(d) is 1, so the read-out is v for every q
    s = (q @ mem["k"] / q.shape[0] ** 0.5).reshape(1)  # (1,)
    return torch.softmax(s, dim=0) * mem["v"]  # (d,)
