import torch
import torch.nn.functional as F


def phi(x):
    return F.elu(x) + 1


def init_memory(d):
    return {"M": torch.zeros(d, d), "z": torch.zeros(d)}


def update(mem, k, v):
    fk = phi(k)
    # wrong: φ(k) v^T is the transpose of the memory (key down the rows, value across the columns)
    return {"M": mem["M"] + torch.outer(fk, v), "z": mem["z"] + fk}


def read(mem, q):
    fq = phi(q)
    return (mem["M"] @ fq) / torch.dot(mem["z"], fq)
