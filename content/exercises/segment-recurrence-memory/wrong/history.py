import torch

SEEN = []  # wrong: every pair kept outside the memory, shared by every call


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
    SEEN.append((k, v))
    i = len(SEEN) - 1
    s = i // L  # the segment of this pair
    new = init_memory(k.shape[0], L, m)
    for j in range(max(0, (s - m) * L), i + 1):  # the m segments before s, then segment s up to i
        seg = j // L
        which = ("cur_k", "cur_v") if seg == s else ("mem_k", "mem_v")
        for name, x in zip(which, SEEN[j]):
            if seg == s:
                new[name][j % L] = x
            else:
                new[name][seg - (s - m), j % L] = x
    new["mem_n"] = torch.tensor(float(min(s, m)))
    new["pos"] = torch.tensor(float(i - s * L + 1))
    return new


def read(mem, q, L, m):
    keys = torch.cat([mem["mem_k"].reshape(m * L, -1), mem["cur_k"]])
    values = torch.cat([mem["mem_v"].reshape(m * L, -1), mem["cur_v"]])
    row = torch.arange((m + 1) * L)
    valid = ((row < m * L) & (row // L >= m - mem["mem_n"])) | ((row >= m * L) & (row - m * L < mem["pos"]))
    scores = (keys @ q / q.shape[0] ** 0.5).masked_fill(~valid, float("-inf"))
    return torch.softmax(scores, dim=0) @ values
