import torch

HISTORY = []  # wrong: state kept outside the memory, shared by every call


def phi(x):
    norm = torch.linalg.vector_norm(x)
    return x / norm if norm > 0 else torch.zeros_like(x)


def init_memory(d, beta):
    return {"W": torch.zeros(d, d)}


def update(mem, k, v, beta):
    HISTORY.append((k, v))
    W = torch.zeros_like(mem["W"])
    for key, value in HISTORY:
        fk = phi(key)
        W = W + beta * torch.outer(value - W @ fk, fk)
    return {"W": W}


def read(mem, q, beta):
    return mem["W"] @ phi(q)

