import torch


def phi(x):
    norm = torch.linalg.vector_norm(x)
    return x / norm if norm > 0 else torch.zeros_like(x)


def init_memory(d, beta):
    return {"W": torch.zeros(d, d)}


def update(mem, k, v, beta):
    # wrong: writes into the memory it was given (the caller's W_{i-1} is lost) and returns it
    fk = phi(k)
    mem["W"] += beta * torch.outer(v - mem["W"] @ fk, fk)
    return mem


def read(mem, q, beta):
    return mem["W"] @ phi(q)

