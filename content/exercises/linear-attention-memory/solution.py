"""Normalised linear attention: the memory (M, z) (reference solution, never shown to students)."""

import torch
import torch.nn.functional as F


def phi(x):
    # the feature map φ(x) = elu(x) + 1: x + 1 for x > 0, exp(x) otherwise, always positive
    return F.elu(x) + 1


def init_memory(d):
    # M_{-1} = 0, z_{-1} = 0
    return {"M": torch.zeros(d, d), "z": torch.zeros(d)}  # (d, d), (d,)


def update(mem, k, v):
    fk = phi(k)  # (d,)
    # M_i = M_{i-1} + v_i φ(k_i)^T,  z_i = z_{i-1} + φ(k_i)
    return {"M": mem["M"] + torch.outer(v, fk), "z": mem["z"] + fk}  # (d, d), (d,)


def read(mem, q):
    fq = phi(q)  # (d,)
    # y = M φ(q) / (z · φ(q))
    return (mem["M"] @ fq) / torch.dot(mem["z"], fq)  # (d,)
