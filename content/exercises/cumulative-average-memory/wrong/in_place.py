import torch


def init_memory(d):
    return {"k": torch.zeros(d), "v": torch.zeros(d), "n": torch.tensor(0.0)}


def update(mem, k, v):
    # wrong: the running mean is right, but it is written into the tensors of the memory it was given
    i = mem["n"].clone()
    mem["k"] += (k - mem["k"]) / (i + 1)
    mem["v"] += (v - mem["v"]) / (i + 1)
    mem["n"] += 1
    return mem
