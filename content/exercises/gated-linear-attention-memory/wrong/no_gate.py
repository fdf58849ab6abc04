import torch


def init_memory(d, gamma):
    return {"M": torch.zeros(d, d)}


def update(mem, k, v, gamma):
    # wrong: the gate is forgotten, so this is the sum rule of fast weights and nothing is ever forgotten
    return {"M": mem["M"] + torch.outer(v, k)}


def read(mem, q, gamma):
    return mem["M"] @ q
