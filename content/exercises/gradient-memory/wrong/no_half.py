import torch


def init_memory(d, lr, momentum, decay):
    return {"W": torch.zeros(d, d), "S": torch.zeros(d, d)}


def update(mem, k, v, lr, momentum, decay):
    # wrong: the gradient of ||W k - v||^2 without the 1/2 (as in the course notes): 2 (W k - v) k^T, a doubled step
    grad = 2 * torch.outer(mem["W"] @ k - v, k)
    S = momentum * mem["S"] - lr * grad
    return {"W": (1 - decay) * mem["W"] + S, "S": S}


def read(mem, q, lr, momentum, decay):
    return mem["W"] @ q
