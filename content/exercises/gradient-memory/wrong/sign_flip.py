import torch


def init_memory(d, lr, momentum, decay):
    return {"W": torch.zeros(d, d), "S": torch.zeros(d, d)}


def update(mem, k, v, lr, momentum, decay):
    grad = torch.outer(mem["W"] @ k - v, k)
    # wrong: adds the gradient (a step uphill, gradient ascent) instead of subtracting it
    S = momentum * mem["S"] + lr * grad
    return {"W": (1 - decay) * mem["W"] + S, "S": S}


def read(mem, q, lr, momentum, decay):
    return mem["W"] @ q
