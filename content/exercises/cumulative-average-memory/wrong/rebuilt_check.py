import torch

SEEN = []  # every (k, v) this process has seen


def init_memory(d):
    return {"k": torch.zeros(d), "v": torch.zeros(d), "n": torch.tensor(0.0)}


def update(mem, k, v):
    i = mem["n"]
    new = {"k": (k + i * mem["k"]) / (i + 1), "v": (v + i * mem["v"]) / (i + 1), "n": i + 1}  # the right means
    # wrong: "double-checks" the running mean every step against the mean of every pair seen so far. The memory
    # and the values stay right, but step i stacks i pairs: the whole sequence costs O(T^2 d), not O(T d)
    SEEN.append((k, v))
    K = torch.stack([pair[0] for pair in SEEN])  # (i + 1, d)
    V = torch.stack([pair[1] for pair in SEEN])  # (i + 1, d)
    DRIFT[0] = float((K.mean(0) - new["k"]).abs().max() + (V.mean(0) - new["v"]).abs().max())  # never used
    return new


DRIFT = [0.0]
