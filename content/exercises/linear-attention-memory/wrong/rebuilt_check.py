import torch
import torch.nn.functional as F

PAIRS = []  # every (k, v) this process has seen


def phi(x):
    return F.elu(x) + 1


def init_memory(d):
    return {"M": torch.zeros(d, d), "z": torch.zeros(d)}


def update(mem, k, v):
    fk = phi(k)
    new = {"M": mem["M"] + torch.outer(v, fk), "z": mem["z"] + fk}  # the right values, and the only ones returned
    # wrong: "double-checks" M every step by rebuilding it from every pair seen so far. The memory and the values
    # stay right, but step i stacks i pairs: the whole sequence costs O(T^2 d^2), not O(T d^2)
    PAIRS.append((k, v))
    K = phi(torch.stack([p[0] for p in PAIRS]))  # (i + 1, d)
    V = torch.stack([p[1] for p in PAIRS])  # (i + 1, d)
    DRIFT[0] = float((V.T @ K - new["M"]).abs().max())  # kept "for debugging", never used
    return new


DRIFT = [0.0]


def read(mem, q):
    fq = phi(q)
    return (mem["M"] @ fq) / torch.dot(mem["z"], fq)
