import torch

HISTORY = []  # wrong: state kept outside the memory, shared by every call


def init_memory(d):
    return {"M": torch.zeros(d, d)}


def update(mem, k, v):
    HISTORY.append((k, v))
    M = torch.zeros_like(mem["M"])
    for key, value in HISTORY:
        M = M + torch.outer(value, key)
    return {"M": M}


def read(mem, q):
    return mem["M"] @ q
