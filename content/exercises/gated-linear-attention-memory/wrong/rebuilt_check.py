import torch

SEEN = []  # every (k, v) this process has seen


def init_memory(d, gamma):
    return {"M": torch.zeros(d, d)}


def update(mem, k, v, gamma):
    M = gamma * mem["M"] + torch.outer(v, k)  # (d, d): the right value, and the only one returned
    # wrong: "double-checks" the memory every step by re-summing every pair seen so far with its weight
    # gamma^(i - j). The memory and the values stay right, but step i stacks i pairs: O(T^2 d^2) in all
    SEEN.append((k, v))
    K = torch.stack([pair[0] for pair in SEEN])  # (i + 1, d)
    V = torch.stack([pair[1] for pair in SEEN])  # (i + 1, d)
    lags = torch.arange(len(SEEN) - 1, -1, -1, dtype=K.dtype)  # i - j for j = 0 .. i
    rebuilt = (V * (gamma**lags)[:, None]).T @ K  # (d, d)
    DRIFT[0] = float((rebuilt - M).abs().max())  # kept "for debugging", never used
    return {"M": M}


DRIFT = [0.0]


def read(mem, q, gamma):
    return mem["M"] @ q
