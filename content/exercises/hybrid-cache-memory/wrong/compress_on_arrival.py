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
    ck, cv, cn = mem["ck"], mem["cv"], mem["cn"]
    lk = torch.cat([mem["k"][1:], k[None]])
    lv = torch.cat([mem["v"][1:], v[None]])
    n = mem["n"] + 1
    # wrong: compresses as soon as Mem has become full, right after the pair arrived, instead of when the next
    # pair needs the room: after that step Mem is short of c pairs and the read sees the pooled pair instead
    if n == n_m:
        ck = torch.cat([ck[1:], lk[:c].mean(dim=0, keepdim=True)])
        cv = torch.cat([cv[1:], lv[:c].mean(dim=0, keepdim=True)])
        cn = torch.clamp(cn + 1, max=n_cm)
        lk = torch.cat([torch.zeros_like(lk[:c]), lk[c:]])
        lv = torch.cat([torch.zeros_like(lv[:c]), lv[c:]])
        n = n - c
    return {"k": lk, "v": lv, "n": n, "ck": ck, "cv": cv, "cn": cn}


def read(mem, q, n_m, c, n_cm):
    keys = torch.cat([mem["ck"], mem["k"]])
    values = torch.cat([mem["cv"], mem["v"]])
    valid = torch.cat([torch.arange(n_cm) >= n_cm - mem["cn"], torch.arange(n_m) >= n_m - mem["n"]])
    scores = (keys @ q / q.shape[0] ** 0.5).masked_fill(~valid, float("-inf"))
    return torch.softmax(scores, dim=0) @ values
