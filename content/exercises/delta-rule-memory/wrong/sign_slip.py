import torch


def phi(x):
    norm = torch.linalg.vector_norm(x)
    return x / norm if norm > 0 else torch.zeros_like(x)


def init_memory(d, beta):
    return {"W": torch.zeros(d, d)}


def update(mem, k, v, beta):
    fk = phi(k)
    recalled = mem["W"] @ fk
    # wrong: the error is recalled - v instead of v - recalled
    return {"W": mem["W"] + beta * torch.outer(recalled - v, fk)}


def read(mem, q, beta):
    return mem["W"] @ phi(q)

