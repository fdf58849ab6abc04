import torch

PAIRS = []


def init_memory(d):
    PAIRS.clear()
    return {"k": torch.zeros(0, d), "v": torch.zeros(0, d)}


def update(mem, k, v):
    # rebuilds the cache from a module-level list instead of from mem
    PAIRS.append((k.clone(), v.clone()))
    return {"k": torch.stack([p[0] for p in PAIRS]), "v": torch.stack([p[1] for p in PAIRS])}


def read(mem, q):
    scores = mem["k"] @ q / q.shape[0] ** 0.5
    return torch.softmax(scores, dim=0) @ mem["v"]
