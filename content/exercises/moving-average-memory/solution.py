"""The moving-average cache as a recurrence (reference solution, never shown to students)."""

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
    # mean_i = (sum of the window) / m_i; the empty rows in front are zeros and add nothing
    return {"win_k": win_k, "win_v": win_v, "n": n, "k": win_k.sum(dim=0) / n, "v": win_v.sum(dim=0) / n}


def read(mem, q, n_c):
    # attention over the one slot (k̄, v̄): the softmax of a single score is 1, so the read is v̄ whatever q is
    score = (q @ mem["k"]) / q.shape[0] ** 0.5  # ()
    weight = torch.softmax(score[None], dim=0)  # (1,), equal to [1.]
    return weight * mem["v"]  # (d,)
