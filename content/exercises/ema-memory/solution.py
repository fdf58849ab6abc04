"""The exponential moving average as a memory (reference solution, never shown to students)."""

import torch


def init_memory(d, alpha):
    # Mem_{-1} = 0
    return {"k": torch.zeros(d), "v": torch.zeros(d)}


def update(mem, k, v, alpha):
    # Mem_i = alpha * (k_i, v_i) + (1 - alpha) * Mem_{i-1}
    return {
        "k": alpha * k + (1 - alpha) * mem["k"],  # (d,)
        "v": alpha * v + (1 - alpha) * mem["v"],  # (d,)
    }


def read(mem, q, alpha):
    # attention over the one slot (k̄, v̄): the softmax of a single score is 1, so the read is v̄ whatever q is
    score = (q @ mem["k"]) / q.shape[0] ** 0.5  # ()
    weight = torch.softmax(score[None], dim=0)  # (1,), equal to [1.]
    return weight * mem["v"]  # (d,)
