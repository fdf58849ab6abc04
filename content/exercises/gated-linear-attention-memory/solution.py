"""Gated (decayed) linear attention as a matrix memory (reference solution, never shown to students)."""

import torch


def init_memory(d, gamma):
    # M_{-1} = 0
    return {"M": torch.zeros(d, d)}  # (d, d)


def update(mem, k, v, gamma):
    # M_i = gamma M_{i-1} + v_i k_i^T: the past decays, the new pair enters with weight 1
    return {"M": gamma * mem["M"] + torch.outer(v, k)}  # (d, d)


def read(mem, q, gamma):
    # y = M q = sum_j gamma^(i - j) v_j (k_j . q)
    return mem["M"] @ q  # (d,)
