import torch
import torch.nn.functional as F


def phi(x):
    return F.elu(x) + 1


def init_memory(d):
    return {"M": torch.zeros(d, d), "z": torch.zeros(d)}


def update(mem, k, v):
    # wrong: writes into the memory it was given (the caller's Mem_{i-1} is lost) and returns it
    fk = phi(k)
    mem["M"] += torch.outer(v, fk)
    mem["z"] += fk
    return mem


def read(mem, q):
    fq = phi(q)
    return (mem["M"] @ fq) / torch.dot(mem["z"], fq)
