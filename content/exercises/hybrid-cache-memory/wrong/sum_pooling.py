import torch


def init_memory(d, n_m, c, n_cm):
    return {
        "k": torch.zeros(n_m, d),
        "v": torch.zeros(n_m, d),
        "n": torch.tensor(0.0),
        "ck": torch.zeros(n_cm, d),
        "cv": torch.zeros(n_cm, d),
        "cn": torch.tensor(0.0),
    }


def update(mem, k, v, n_m, c, n_cm):
    lk, lv, n = mem["k"], mem["v"], mem["n"]
    ck, cv, cn = mem["ck"], mem["cv"], mem["cn"]
    # wrong: the evicted pairs are compressed by their sum, not their mean (c times too large)
    if n == n_m:
        pooled_k = lk[:c].sum(dim=0, keepdim=True)
        pooled_v = lv[:c].sum(dim=0, keepdim=True)
        ck = torch.cat([ck[1:], pooled_k])
        cv = torch.cat([cv[1:], pooled_v])
        cn = torch.clamp(cn + 1, max=n_cm)
        lk = torch.cat([torch.zeros_like(lk[:c]), lk[c:]])
        lv = torch.cat([torch.zeros_like(lv[:c]), lv[c:]])
        n = n - c
    lk = torch.cat([lk[1:], k[None]])
    lv = torch.cat([lv[1:], v[None]])
    return {"k": lk, "v": lv, "n": n + 1, "ck": ck, "cv": cv, "cn": cn}


def read(mem, q, n_m, c, n_cm):
    keys = torch.cat([mem["ck"], mem["k"]])
    values = torch.cat([mem["cv"], mem["v"]])
    valid = torch.cat([torch.arange(n_cm) >= n_cm - mem["cn"], torch.arange(n_m) >= n_m - mem["n"]])
    scores = (keys @ q / q.shape[0] ** 0.5).masked_fill(~valid, float("-inf"))
    return torch.softmax(scores, dim=0) @ values
