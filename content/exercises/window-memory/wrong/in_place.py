import torch


def init_memory(d, n_c):
    return {"k": torch.zeros(n_c, d), "v": torch.zeros(n_c, d), "n": torch.tensor(0.0)}


def update(mem, k, v, n_c):
    # wrong: the shift is right, but it is written into the tensors of the memory it was given
    mem["k"][:-1] = mem["k"][1:].clone()
    mem["k"][-1] = k
    mem["v"][:-1] = mem["v"][1:].clone()
    mem["v"][-1] = v
    mem["n"] = torch.clamp(mem["n"] + 1, max=n_c)
    return mem


def read(mem, q, n_c):
    valid = torch.arange(n_c) >= n_c - mem["n"]
    scores = (mem["k"] @ q / q.shape[0] ** 0.5).masked_fill(~valid, float("-inf"))
    return torch.softmax(scores, dim=0) @ mem["v"]
