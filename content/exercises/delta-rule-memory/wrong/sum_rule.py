import torch


def phi(x):
    norm = torch.linalg.vector_norm(x)
    return x / norm if norm > 0 else torch.zeros_like(x)


def init_memory(d, beta):
    return {"W": torch.zeros(d, d)}


def update(mem, k, v, beta):
    # wrong: the sum rule: writes v itself, not the error v - W φ(k)
    return {"W": mem["W"] + beta * torch.outer(v, phi(k))}


def read(mem, q, beta):
    return mem["W"] @ phi(q)

