"""The GRU recurrent cache (reference solution, never shown to students)."""

import torch


def gru_weights(h, seed, role):
    """The given weights [W, U, b_W, b_U] of one GRU cell of width h (role 0: the key cell, 1: the value cell).

    W and U are (3h, h), b_W and b_U are (3h,): the rows of the reset gate r, then the update gate z, then the
    candidate n, stacked."""
    g = torch.Generator().manual_seed(2 * seed + role)
    bound = h**-0.5
    shapes = [(3 * h, h), (3 * h, h), (3 * h,), (3 * h,)]  # W, U, b_W, b_U, drawn in this order
    # uniform in [-1/sqrt(h), 1/sqrt(h)], drawn in float64, then cast to float32
    return [(torch.rand(s, generator=g, dtype=torch.float64) * (2 * bound) - bound).float() for s in shapes]


def gru_cell(x, h, weights):
    W, U, b_W, b_U = weights
    x_r, x_z, x_n = (W @ x + b_W).chunk(3)  # W_r x + b_Wr, W_z x + b_Wz, W_n x + b_Wn: (d,) each
    h_r, h_z, h_n = (U @ h + b_U).chunk(3)  # U_r h + b_Ur, U_z h + b_Uz, U_n h + b_Un: (d,) each
    r = torch.sigmoid(x_r + h_r)  # reset gate
    z = torch.sigmoid(x_z + h_z)  # update gate
    n = torch.tanh(x_n + r * h_n)  # candidate: r scales U_n h + b_Un, after the product
    # h_i = (1 - z) * n + z * h_{i-1}
    return (1 - z) * n + z * h  # (d,)


def init_memory(d, seed):
    # h_{-1} = 0 for both cells
    return {"k": torch.zeros(d), "v": torch.zeros(d)}


def update(mem, k, v, seed):
    d = k.shape[0]
    new_k = gru_cell(k, mem["k"], gru_weights(d, seed, role=0))  # the key cell runs over the keys
    new_v = gru_cell(v, mem["v"], gru_weights(d, seed, role=1))  # the value cell over the values
    return {"k": new_k, "v": new_v}


def read(mem, q, seed):
    # one slot: softmax over the single score s = q . k / sqrt(d) is 1, so the read-out is v for every q
    s = (q @ mem["k"] / q.shape[0] ** 0.5).reshape(1)  # (1,)
    return torch.softmax(s, dim=0) * mem["v"]  # (d,)
