import torch


def init_memory(d, gamma):
    return {"M": torch.zeros(d, d)}


def update(mem, k, v, gamma):
    # wrong: the gate is applied after the write, so the new pair is decayed as well: gamma (M + v k^T)
    return {"M": gamma * (mem["M"] + torch.outer(v, k))}


def read(mem, q, gamma):
    return mem["M"] @ q
