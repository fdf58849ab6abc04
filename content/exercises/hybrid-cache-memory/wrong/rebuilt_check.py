import torch

SEEN = []  # every (k, v) this process has seen


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
    if n == n_m:
        ck = torch.cat([ck[1:], lk[:c].mean(dim=0, keepdim=True)])
        cv = torch.cat([cv[1:], lv[:c].mean(dim=0, keepdim=True)])
        cn = torch.clamp(cn + 1, max=n_cm)
        lk = torch.cat([torch.zeros_like(lk[:c]), lk[c:]])
        lv = torch.cat([torch.zeros_like(lv[:c]), lv[c:]])
        n = n - c
    lk = torch.cat([lk[1:], k[None]])
    lv = torch.cat([lv[1:], v[None]])
    # wrong: "double-checks" every step by pooling every complete group of pairs seen so far. The memory and the
    # values stay right, but step i stacks i pairs: the whole sequence costs O(T^2 d)
    SEEN.append((k, v))
    K = torch.stack([pair[0] for pair in SEEN])  # (i + 1, d)
    groups = K[: K.shape[0] // c * c].reshape(-1, c, K.shape[1]).mean(dim=1)  # every group, evicted or not
    DRIFT[0] = float(groups.abs().sum())
    return {"k": lk, "v": lv, "n": n + 1, "ck": ck, "cv": cv, "cn": cn}


DRIFT = [0.0]


def read(mem, q, n_m, c, n_cm):
    keys = torch.cat([mem["ck"], mem["k"]])
    values = torch.cat([mem["cv"], mem["v"]])
    valid = torch.cat([torch.arange(n_cm) >= n_cm - mem["cn"], torch.arange(n_m) >= n_m - mem["n"]])
    scores = (keys @ q / q.shape[0] ** 0.5).masked_fill(~valid, float("-inf"))
    return torch.softmax(scores, dim=0) @ values
