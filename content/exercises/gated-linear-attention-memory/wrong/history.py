import torch

SEEN = []  # wrong: every pair kept outside the memory, shared by every call


def init_memory(d, gamma):
    return {"M": torch.zeros(d, d)}


def update(mem, k, v, gamma):
    SEEN.append((k, v))
    # M_i = sum_j gamma^(i - j) v_j k_j^T, re-summed over the whole list (one stacked product, not a Python loop)
    K = torch.stack([pair[0] for pair in SEEN])  # (i + 1, d)
    V = torch.stack([pair[1] for pair in SEEN])  # (i + 1, d)
    lags = torch.arange(len(SEEN) - 1, -1, -1, dtype=K.dtype)  # i - j for j = 0 .. i
    weights = gamma**lags  # (i + 1,)
    return {"M": (V * weights[:, None]).T @ K}  # (d, d)


def read(mem, q, gamma):
    return mem["M"] @ q
