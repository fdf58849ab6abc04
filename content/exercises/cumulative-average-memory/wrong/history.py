import torch

SEEN = []  # wrong: every pair kept outside the memory, shared by every call


def init_memory(d):
    return {"k": torch.zeros(d), "v": torch.zeros(d), "n": torch.tensor(0.0)}


def update(mem, k, v):
    SEEN.append((k, v))
    keys = torch.stack([pair[0] for pair in SEEN])
    values = torch.stack([pair[1] for pair in SEEN])
    return {"k": keys.mean(dim=0), "v": values.mean(dim=0), "n": torch.tensor(float(len(SEEN)))}
