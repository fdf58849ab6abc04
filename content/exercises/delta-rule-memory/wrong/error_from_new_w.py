import torch


def phi(x):
    norm = torch.linalg.vector_norm(x)
    return x / norm if norm > 0 else torch.zeros_like(x)


def init_memory(d, beta):
    return {"W": torch.zeros(d, d)}


def update(mem, k, v, beta):
    fk = phi(k)
    # wrong: writes first, then subtracts what the *updated* W recalls; the recall must use W_{i-1}
    W = mem["W"] + beta * torch.outer(v, fk)
    return {"W": W - beta * torch.outer(W @ fk, fk)}


def read(mem, q, beta):
    return mem["W"] @ phi(q)

