"""Summary vectors as a recurrence (reference solution, never shown to students)."""

import torch


def init_memory(d, c):
    # Mem_{-1}: no summaries (0 rows) and an empty chunk (c zero rows, none of them used)
    return {
        "sk": torch.zeros(0, d),
        "sv": torch.zeros(0, d),
        "cur_k": torch.zeros(c, d),
        "cur_v": torch.zeros(c, d),
        "pos": torch.tensor(0.0),
    }


def update(mem, k, v, c):
    sk, sv, cur_k, cur_v = mem["sk"], mem["sv"], mem["cur_k"], mem["cur_v"]
    pos = int(mem["pos"])
    if pos == c:
        # the chunk filled up at the previous step: S = [S; mean of its keys / values], then start an empty chunk
        sk = torch.cat([sk, cur_k.mean(dim=0, keepdim=True)])  # (s + 1, d)
        sv = torch.cat([sv, cur_v.mean(dim=0, keepdim=True)])  # (s + 1, d)
        cur_k, cur_v, pos = torch.zeros_like(cur_k), torch.zeros_like(cur_v), 0
    # cur[pos] = (k_i, v_i), written into copies: mem is left as it was
    cur_k, cur_v = cur_k.clone(), cur_v.clone()  # (c, d) each
    cur_k[pos], cur_v[pos] = k, v
    return {"sk": sk, "sv": sv, "cur_k": cur_k, "cur_v": cur_v, "pos": torch.tensor(pos + 1.0)}


def read(mem, q, c):
    # y = softmax(K q / sqrt(d))ᵀ V over [the summaries; the pos used rows of the chunk]
    used = int(mem["pos"])
    keys = torch.cat([mem["sk"], mem["cur_k"][:used]])  # (s + pos, d)
    values = torch.cat([mem["sv"], mem["cur_v"][:used]])  # (s + pos, d)
    weights = torch.softmax(keys @ q / q.shape[0] ** 0.5, dim=0)  # (s + pos,)
    return weights @ values  # (d,)
