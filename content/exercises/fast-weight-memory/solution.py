"""Fast weights: linear attention as a matrix memory (reference solution, never shown to students)."""

import torch


def init_memory(d):
    # M_{-1} = 0
    return {"M": torch.zeros(d, d)}  # (d, d)


def update(mem, k, v):
    # M_i = M_{i-1} + v_i k_i^T
    return {"M": mem["M"] + torch.outer(v, k)}  # (d, d)


def read(mem, q):
    # y = M q
    return mem["M"] @ q  # (d,)
