import torch

SEEN = []  # every (k, v) this process has seen


def init_memory(d, lr, momentum, decay):
    return {"W": torch.zeros(d, d), "S": torch.zeros(d, d)}


def update(mem, k, v, lr, momentum, decay):
    S = momentum * mem["S"] - lr * torch.outer(mem["W"] @ k - v, k)
    W = (1 - decay) * mem["W"] + S  # the right memory, and the only one returned
    # wrong: "double-checks" the memory every step by rebuilding the whole history and measuring how well W still
    # recalls every pair seen so far. The memory and the values stay right, but step i stacks i pairs: the
    # sequence costs O(T^2 d^2), not O(T d^2)
    SEEN.append((k, v))
    K = torch.stack([pair[0] for pair in SEEN])  # (i + 1, d)
    V = torch.stack([pair[1] for pair in SEEN])  # (i + 1, d)
    LOSS[0] = float(0.5 * ((K @ W.T - V) ** 2).sum())  # kept "for debugging", never used
    return {"W": W, "S": S}


LOSS = [0.0]


def read(mem, q, lr, momentum, decay):
    return mem["W"] @ q
