import torch


def init_memory(d, L, m):
    return {
        "mem_k": torch.zeros(m, L, d),
        "mem_v": torch.zeros(m, L, d),
        "cur_k": torch.zeros(L, d),
        "cur_v": torch.zeros(L, d),
        "mem_n": torch.tensor(0.0),
        "pos": torch.tensor(0.0),
    }


def update(mem, k, v, L, m):
    # wrong: the values are right, but the segments are written into the tensors of the memory it was given
    p = int(mem["pos"])
    if p == L:
        mem["mem_k"][:-1] = mem["mem_k"][1:].clone()
        mem["mem_k"][-1] = mem["cur_k"]
        mem["mem_v"][:-1] = mem["mem_v"][1:].clone()
        mem["mem_v"][-1] = mem["cur_v"]
        mem["mem_n"] = torch.clamp(mem["mem_n"] + 1, max=m)
        mem["cur_k"].zero_()
        mem["cur_v"].zero_()
        p = 0
    mem["cur_k"][p] = k
    mem["cur_v"][p] = v
    mem["pos"] = torch.tensor(float(p + 1))
    return mem


def read(mem, q, L, m):
    keys = torch.cat([mem["mem_k"].reshape(m * L, -1), mem["cur_k"]])
    values = torch.cat([mem["mem_v"].reshape(m * L, -1), mem["cur_v"]])
    row = torch.arange((m + 1) * L)
    valid = ((row < m * L) & (row // L >= m - mem["mem_n"])) | ((row >= m * L) & (row - m * L < mem["pos"]))
    scores = (keys @ q / q.shape[0] ** 0.5).masked_fill(~valid, float("-inf"))
    return torch.softmax(scores, dim=0) @ values
