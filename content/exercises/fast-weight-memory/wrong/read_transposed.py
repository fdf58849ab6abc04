import torch


def init_memory(d):
    return {"M": torch.zeros(d, d)}


def update(mem, k, v):
    return {"M": mem["M"] + torch.outer(v, k)}


def read(mem, q):
    # wrong: q^T M (that is M^T q) instead of M q
    return q @ mem["M"]
