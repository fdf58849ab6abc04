"""Neural network as memory: one gradient step per token (reference solution, never shown to students)."""

import torch


def init_memory(d, lr, momentum, decay):
    # W_{-1} = 0, S_{-1} = 0
    return {"W": torch.zeros(d, d), "S": torch.zeros(d, d)}


def update(mem, k, v, lr, momentum, decay):
    # grad_W of 1/2 ||W k - v||^2 at W_{i-1}: (W_{i-1} k_i - v_i) k_i^T, value side down the rows
    grad = torch.outer(mem["W"] @ k - v, k)  # (d, d)
    # S_i = momentum S_{i-1} - lr grad: descend the loss
    S = momentum * mem["S"] - lr * grad  # (d, d)
    # W_i = (1 - decay) W_{i-1} + S_i
    W = (1 - decay) * mem["W"] + S  # (d, d)
    return {"W": W, "S": S}


def read(mem, q, lr, momentum, decay):
    # y = W_i q: a forward pass, no update
    return mem["W"] @ q  # (d,)
