import torch


def init_memory(d):
    return {"k": torch.zeros(d), "v": torch.zeros(d), "n": torch.tensor(0.0)}


def update(mem, k, v):
    # wrong: the list is gone and the running mean is right, but it is written into the memory it was given
    i = mem["n"].clone()
    mem["k"].mul_(i).add_(k).div_(i + 1)
    mem["v"].mul_(i).add_(v).div_(i + 1)
    mem["n"].add_(1)
    return mem


def read(mem, q):
    score = (q * mem["k"]).sum(dim=0, keepdim=True) / q.shape[0] ** 0.5
    return torch.softmax(score, dim=0) * mem["v"]
