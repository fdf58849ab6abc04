import torch


def init_memory(d, alpha):
    return {"k": torch.zeros(d), "v": torch.zeros(d)}


def update(mem, k, v, alpha):
    # wrong: the average is right, but it is written into the tensors of the memory it was given
    mem["k"].mul_(1 - alpha).add_(alpha * k)
    mem["v"].mul_(1 - alpha).add_(alpha * v)
    return mem


def read(mem, q, alpha):
    return torch.softmax(((q @ mem["k"]) / q.shape[0] ** 0.5)[None], dim=0) * mem["v"]
