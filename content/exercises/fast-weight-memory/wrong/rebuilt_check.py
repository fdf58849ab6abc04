import torch

PAIRS = []  # every (k, v) this process has seen


def init_memory(d):
    return {"M": torch.zeros(d, d)}


def update(mem, k, v):
    M = mem["M"] + torch.outer(v, k)  # (d, d): the right value, and the only one returned
    # wrong: "double-checks" the running sum every step by rebuilding it from every pair seen so far. The memory
    # and the values stay right, but step i stacks i pairs: the whole sequence costs O(T^2 d^2), not O(T d^2)
    PAIRS.append((k, v))
    K = torch.stack([p[0] for p in PAIRS])  # (i + 1, d)
    V = torch.stack([p[1] for p in PAIRS])  # (i + 1, d)
    rebuilt = V.T @ K  # (d, d) = sum_j v_j k_j^T over this process's history
    DRIFT[0] = float((rebuilt - M).abs().max())  # kept "for debugging", never used
    return {"M": M}


DRIFT = [0.0]


def read(mem, q):
    return mem["M"] @ q
