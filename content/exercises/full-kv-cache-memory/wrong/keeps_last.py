import torch


def init_memory(d):
    return {"k": torch.zeros(0, d), "v": torch.zeros(0, d)}


def update(mem, k, v):
    # only the newest pair is kept
    return {"k": k[None].clone(), "v": v[None].clone()}


def read(mem, q):
    scores = mem["k"] @ q / q.shape[0] ** 0.5
    return torch.softmax(scores, dim=0) @ mem["v"]
