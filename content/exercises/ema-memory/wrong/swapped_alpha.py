import torch


def init_memory(d, alpha):
    return {"k": torch.zeros(d), "v": torch.zeros(d)}


def update(mem, k, v, alpha):
    # wrong: alpha and 1 - alpha swapped: the new pair gets 1 - alpha, the old memory only alpha
    return {"k": (1 - alpha) * k + alpha * mem["k"], "v": (1 - alpha) * v + alpha * mem["v"]}


def read(mem, q, alpha):
    return torch.softmax(((q @ mem["k"]) / q.shape[0] ** 0.5)[None], dim=0) * mem["v"]
