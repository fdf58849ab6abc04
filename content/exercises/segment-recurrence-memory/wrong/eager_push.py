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
    mem_k, mem_v, mem_n = mem["mem_k"], mem["mem_v"], mem["mem_n"]
    slot = (torch.arange(L) == mem["pos"])[:, None]
    cur_k = torch.where(slot, k, mem["cur_k"])
    cur_v = torch.where(slot, v, mem["cur_v"])
    pos = mem["pos"] + 1
    # wrong: pushes the segment as soon as its last pair is written, not when the next segment starts: the last
    # pair of every segment then reads its own segment from the memory, and the segment before it is gone
    if pos == L:
        mem_k = torch.cat([mem_k[1:], cur_k[None]])
        mem_v = torch.cat([mem_v[1:], cur_v[None]])
        mem_n = torch.clamp(mem_n + 1, max=m)
        cur_k, cur_v, pos = torch.zeros_like(cur_k), torch.zeros_like(cur_v), torch.zeros_like(pos)
    return {"mem_k": mem_k, "mem_v": mem_v, "cur_k": cur_k, "cur_v": cur_v, "mem_n": mem_n, "pos": pos}


def read(mem, q, L, m):
    keys = torch.cat([mem["mem_k"].reshape(m * L, -1), mem["cur_k"]])
    values = torch.cat([mem["mem_v"].reshape(m * L, -1), mem["cur_v"]])
    row = torch.arange((m + 1) * L)
    valid = ((row < m * L) & (row // L >= m - mem["mem_n"])) | ((row >= m * L) & (row - m * L < mem["pos"]))
    scores = (keys @ q / q.shape[0] ** 0.5).masked_fill(~valid, float("-inf"))
    return torch.softmax(scores, dim=0) @ values
