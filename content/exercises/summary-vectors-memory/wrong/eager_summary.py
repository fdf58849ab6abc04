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
    sk, sv = mem["sk"], mem["sv"]
    pos = int(mem["pos"])
    cur_k, cur_v = mem["cur_k"].clone(), mem["cur_v"].clone()
    cur_k[pos], cur_v[pos] = k, v
    pos += 1
    # wrong: summarises as soon as the chunk is full, at its own last pair instead of at the next chunk's first:
    # after step c - 1 the chunk is already a summary, and the last pair of a chunk is never read raw
    if pos == c:
        sk = torch.cat([sk, cur_k.mean(dim=0, keepdim=True)])
        sv = torch.cat([sv, cur_v.mean(dim=0, keepdim=True)])
        cur_k, cur_v, pos = torch.zeros_like(cur_k), torch.zeros_like(cur_v), 0
    return {"sk": sk, "sv": sv, "cur_k": cur_k, "cur_v": cur_v, "pos": torch.tensor(float(pos))}


def read(mem, q, c):
    used = int(mem["pos"])
    keys = torch.cat([mem["sk"], mem["cur_k"][:used]])
    values = torch.cat([mem["sv"], mem["cur_v"][:used]])
    return torch.softmax(keys @ q / q.shape[0] ** 0.5, dim=0) @ values
