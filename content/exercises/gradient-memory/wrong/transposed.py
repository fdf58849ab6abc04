import torch


def init_memory(d, lr, momentum, decay):
    return {"W": torch.zeros(d, d), "S": torch.zeros(d, d)}


def update(mem, k, v, lr, momentum, decay):
    # wrong: k (W k - v)^T is the transpose of the gradient: the key runs down the rows, the error across
    grad = torch.outer(k, mem["W"] @ k - v)
    S = momentum * mem["S"] - lr * grad
    return {"W": (1 - decay) * mem["W"] + S, "S": S}


def read(mem, q, lr, momentum, decay):
    return mem["W"] @ q
