"""The weighted moving-average cache as a recurrence (reference solution, never shown to students)."""

import torch


def init_memory(d, n_c):
    # Mem_{-1}: an empty window (zero rows), no pairs, zero means
    return {
        "win_k": torch.zeros(n_c, d),
        "win_v": torch.zeros(n_c, d),
        "n": torch.tensor(0.0),
        "k": torch.zeros(d),
        "v": torch.zeros(d),
    }


def update(mem, k, v, n_c):
    # buffer_i = cat(buffer_{i-1}[1:], x_i): the oldest pair leaves at the front, the new one enters at the back
    win_k = torch.cat([mem["win_k"][1:], k[None]])  # (n_c, d)
    win_v = torch.cat([mem["win_v"][1:], v[None]])  # (n_c, d)
    # m_i = min(i + 1, n_c): the pairs in the window
    n = torch.clamp(mem["n"] + 1, max=n_c)  # ()
    # row s carries the weight beta_{s+1} = s + 1: the newest row (s = n_c - 1) weighs n_c
    beta = torch.arange(1, n_c + 1, dtype=win_k.dtype)  # (n_c,)
    # normalise by the weights of the rows that hold a pair (the last m_i rows), not by all n_c weights
    present = torch.arange(n_c) >= n_c - n  # (n_c,)
    norm = (beta * present).sum()  # ()
    # mean_i = sum_s beta_{s+1} buffer_i[s] / norm; the empty rows in front are zeros and add nothing
    return {"win_k": win_k, "win_v": win_v, "n": n, "k": beta @ win_k / norm, "v": beta @ win_v / norm}


def read(mem, q, n_c):
    # attention over the one slot (k̄, v̄): the softmax of a single score is 1, so the read is v̄ whatever q is
    score = (q @ mem["k"]) / q.shape[0] ** 0.5  # ()
    weight = torch.softmax(score[None], dim=0)  # (1,), equal to [1.]
    return weight * mem["v"]  # (d,)
