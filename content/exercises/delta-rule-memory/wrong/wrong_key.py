import torch


def phi(x):
    norm = torch.linalg.vector_norm(x)
    return x / norm if norm > 0 else torch.zeros_like(x)


def init_memory(d, beta):
    return {"M": torch.zeros(d, d)}


def update(mem, k, v, beta):
    # wrong: the memory's tensor must be called "W"
    fk = phi(k)
    return {"M": mem["M"] + beta * torch.outer(v - mem["M"] @ fk, fk)}


def read(mem, q, beta):
    return mem["M"] @ phi(q)
