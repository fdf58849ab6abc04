"""The window cache as a recurrence (reference solution, never shown to students)."""

import torch


def init_memory(d, n_c):
    # Mem_{-1}: n_c empty (zero) rows, none of them holding a pair yet
    return {"k": torch.zeros(n_c, d), "v": torch.zeros(n_c, d), "n": torch.tensor(0.0)}


def update(mem, k, v, n_c):
    # K_i = cat(K_{i-1}[1:], k_i): the oldest row (row 0) falls out, k_i becomes the last row
    new_k = torch.cat([mem["k"][1:], k[None]])  # (n_c, d)
    new_v = torch.cat([mem["v"][1:], v[None]])  # (n_c, d)
    # n_i = min(n_{i-1} + 1, n_c)
    n = torch.clamp(mem["n"] + 1, max=n_c)  # ()
    return {"k": new_k, "v": new_v, "n": n}


def read(mem, q, n_c):
    # y = softmax(K q / sqrt(d)) V over the last n rows only (the front rows are empty while the window fills)
    valid = torch.arange(n_c) >= n_c - mem["n"]  # (n_c,)
    scores = mem["k"] @ q / q.shape[0] ** 0.5  # (n_c,)
    scores = scores.masked_fill(~valid, float("-inf"))
    return torch.softmax(scores, dim=0) @ mem["v"]  # (d,)
