import torch

SEEN = []  # wrong: every pair kept outside the memory, shared by every call


def init_memory(d, c):
    return {
        "sk": torch.zeros(0, d),
        "sv": torch.zeros(0, d),
        "cur_k": torch.zeros(c, d),
        "cur_v": torch.zeros(c, d),
        "pos": torch.tensor(0.0),
    }


def update(mem, k, v, c):
    SEEN.append((k, v))
    K = torch.stack([pair[0] for pair in SEEN])  # (i + 1, d)
    V = torch.stack([pair[1] for pair in SEEN])
    s = (len(SEEN) - 1) // c  # chunks finished before this pair's chunk
    used = len(SEEN) - s * c
    cur_k, cur_v = torch.zeros_like(mem["cur_k"]), torch.zeros_like(mem["cur_v"])
    cur_k[:used], cur_v[:used] = K[s * c :], V[s * c :]
    return {
        "sk": K[: s * c].reshape(s, c, K.shape[1]).mean(dim=1),
        "sv": V[: s * c].reshape(s, c, V.shape[1]).mean(dim=1),
        "cur_k": cur_k,
        "cur_v": cur_v,
        "pos": torch.tensor(float(used)),
    }


def read(mem, q, c):
    used = int(mem["pos"])
    keys = torch.cat([mem["sk"], mem["cur_k"][:used]])
    values = torch.cat([mem["sv"], mem["cur_v"][:used]])
    return torch.softmax(keys @ q / q.shape[0] ** 0.5, dim=0) @ values
