import torch


def init_memory(d, c):
    return {
        "sk": torch.zeros(0, d),
        "sv": torch.zeros(0, d),
        "cur_k": torch.zeros(c, d),
        "cur_v": torch.zeros(c, d),
        "pos": torch.tensor(0.0),
    }


def update(mem, k, v, c):
    # wrong: the steps are right, but they are written into the memory it was given, which is then returned
    pos = int(mem["pos"])
    if pos == c:
        mem["sk"] = torch.cat([mem["sk"], mem["cur_k"].mean(dim=0, keepdim=True)])
        mem["sv"] = torch.cat([mem["sv"], mem["cur_v"].mean(dim=0, keepdim=True)])
        mem["cur_k"].zero_()
        mem["cur_v"].zero_()
        pos = 0
    mem["cur_k"][pos] = k
    mem["cur_v"][pos] = v
    mem["pos"] = torch.tensor(pos + 1.0)
    return mem


def read(mem, q, c):
    used = int(mem["pos"])
    keys = torch.cat([mem["sk"], mem["cur_k"][:used]])
    values = torch.cat([mem["sv"], mem["cur_v"][:used]])
    return torch.softmax(keys @ q / q.shape[0] ** 0.5, dim=0) @ values
