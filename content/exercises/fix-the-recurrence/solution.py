"""Fix the recurrence (reference solution, never shown to students): the running mean from mem alone."""

import torch


def init_memory(d):
    # Mem_{-1}: nothing seen yet
    return {"k": torch.zeros(d), "v": torch.zeros(d), "n": torch.tensor(0.0)}


def update(mem, k, v):
    i = mem["n"]  # pairs seen before this one = the 0-based position of this pair
    # Mem_i = ((k_i, v_i) + i * Mem_{i-1}) / (i + 1): the old mean already stands for the i earlier pairs
    return {
        "k": (k + i * mem["k"]) / (i + 1),  # (d,)
        "v": (v + i * mem["v"]) / (i + 1),  # (d,)
        "n": i + 1,  # ()
    }


def read(mem, q):
    # softmax over a single slot is 1 whatever q is, so the read-out is the mean value
    score = (q * mem["k"]).sum(dim=0, keepdim=True) / q.shape[0] ** 0.5  # (1,)
    return torch.softmax(score, dim=0) * mem["v"]  # (d,)
