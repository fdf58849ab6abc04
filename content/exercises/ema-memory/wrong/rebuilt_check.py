import torch

SEEN = []  # every (k, v) this process has seen


def init_memory(d, alpha):
    return {"k": torch.zeros(d), "v": torch.zeros(d)}


def update(mem, k, v, alpha):
    new = {"k": alpha * k + (1 - alpha) * mem["k"], "v": alpha * v + (1 - alpha) * mem["v"]}  # the right averages
    # wrong: "double-checks" the averages every step by re-summing every pair seen so far with its weight
    # alpha (1 - alpha)^(i - j). The memory and the values stay right, but step i stacks i pairs: O(T^2 d) in all
    SEEN.append((k, v))
    K = torch.stack([pair[0] for pair in SEEN])  # (i + 1, d)
    V = torch.stack([pair[1] for pair in SEEN])  # (i + 1, d)
    lags = torch.arange(len(SEEN) - 1, -1, -1, dtype=K.dtype)  # i - j for j = 0 .. i
    weights = alpha * (1 - alpha) ** lags  # (i + 1,)
    DRIFT[0] = float((weights @ K - new["k"]).abs().max() + (weights @ V - new["v"]).abs().max())  # never used
    return new


DRIFT = [0.0]


def read(mem, q, alpha):
    return torch.softmax(((q @ mem["k"]) / q.shape[0] ** 0.5)[None], dim=0) * mem["v"]
