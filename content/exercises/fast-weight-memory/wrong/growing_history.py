import torch


def init_memory(d):
    return {"M": torch.zeros(d, d)}


def update(mem, k, v):
    # wrong: keeps every pair beside M, so the memory grows with the sequence (a KV cache, not fast weights)
    pairs = torch.stack([k, v])[None]  # (1, 2, d)
    history = pairs if "pairs" not in mem else torch.cat([mem["pairs"], pairs])  # (i + 1, 2, d)
    return {"M": mem["M"] + torch.outer(v, k), "pairs": history}


def read(mem, q):
    return mem["M"] @ q
