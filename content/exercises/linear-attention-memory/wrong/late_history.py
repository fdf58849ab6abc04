import torch
import torch.nn.functional as F

EXACT_CALLS = 64
CALLS = [0]


def phi(x):
    return F.elu(x) + 1


def init_memory(d):
    return {"M": torch.zeros(d, d), "z": torch.zeros(d)}


def update(mem, k, v):
    # wrong: after 64 calls it also keeps every new pair beside M and z ("to recompute them exactly later"):
    # right on short sequences, but the memory grows without bound on long ones
    CALLS[0] += 1
    fk = phi(k)
    new = {"M": mem["M"] + torch.outer(v, fk), "z": mem["z"] + fk}
    if CALLS[0] <= EXACT_CALLS:
        return new
    pairs = torch.stack([k, v])[None]  # (1, 2, d)
    new["pairs"] = pairs if "pairs" not in mem else torch.cat([mem["pairs"], pairs])  # (steps, 2, d)
    return new


def read(mem, q):
    fq = phi(q)
    return (mem["M"] @ fq) / torch.dot(mem["z"], fq)
