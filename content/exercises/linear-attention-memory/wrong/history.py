import torch
import torch.nn.functional as F

HISTORY = []  # wrong: state kept outside the memory, shared by every call


def phi(x):
    return F.elu(x) + 1


def init_memory(d):
    return {"M": torch.zeros(d, d), "z": torch.zeros(d)}


def update(mem, k, v):
    HISTORY.append((k, v))
    M = torch.zeros_like(mem["M"])
    z = torch.zeros_like(mem["z"])
    for key, value in HISTORY:
        M = M + torch.outer(value, phi(key))
        z = z + phi(key)
    return {"M": M, "z": z}


def read(mem, q):
    fq = phi(q)
    return (mem["M"] @ fq) / torch.dot(mem["z"], fq)
