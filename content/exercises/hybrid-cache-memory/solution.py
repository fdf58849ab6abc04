"""The hybrid cache as a recurrence (reference solution, never shown to students)."""

import torch


def init_memory(d, n_m, c, n_cm):
    # Mem_{-1}: an empty local memory and an empty compressed memory
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
    if n == n_m:
        # the local memory is full: its c oldest pairs (rows 0 .. c-1) leave, compressed into one pair, their
        # mean over time; CMem = FIFO(mean, CMem_pre): append at the end, drop CMem's oldest row
        ck = torch.cat([ck[1:], lk[:c].mean(dim=0, keepdim=True)])  # (n_cm, d)
        cv = torch.cat([cv[1:], lv[:c].mean(dim=0, keepdim=True)])  # (n_cm, d)
        cn = torch.clamp(cn + 1, max=n_cm)  # ()
        # the evicted rows are empty now
        lk = torch.cat([torch.zeros_like(lk[:c]), lk[c:]])  # (n_m, d)
        lv = torch.cat([torch.zeros_like(lv[:c]), lv[c:]])  # (n_m, d)
        n = n - c
    # Mem = cat(Mem[1:], (k_i, v_i)): row 0 is empty here, so the shift drops no pair
    lk = torch.cat([lk[1:], k[None]])  # (n_m, d)
    lv = torch.cat([lv[1:], v[None]])  # (n_m, d)
    return {"k": lk, "v": lv, "n": n + 1, "ck": ck, "cv": cv, "cn": cn}


def read(mem, q, n_m, c, n_cm):
    # one softmax over [CMem; Mem], only the rows that hold a pair (both are right-aligned)
    keys = torch.cat([mem["ck"], mem["k"]])  # (n_cm + n_m, d)
    values = torch.cat([mem["cv"], mem["v"]])  # (n_cm + n_m, d)
    valid = torch.cat([torch.arange(n_cm) >= n_cm - mem["cn"], torch.arange(n_m) >= n_m - mem["n"]])
    # y = softmax(K q / sqrt(d)) V
    scores = (keys @ q / q.shape[0] ** 0.5).masked_fill(~valid, float("-inf"))  # (n_cm + n_m,)
    return torch.softmax(scores, dim=0) @ values  # (d,)
