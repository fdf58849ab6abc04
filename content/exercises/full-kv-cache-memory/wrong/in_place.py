import torch


def init_memory(d):
    return {"k": torch.zeros(0, d), "v": torch.zeros(0, d)}


def update(mem, k, v):
    # writes the grown cache back into the caller's dict and returns that same dict
    mem["k"] = torch.cat([mem["k"], k[None]])
    mem["v"] = torch.cat([mem["v"], v[None]])
    return mem


def read(mem, q):
    scores = mem["k"] @ q / q.shape[0] ** 0.5
    return torch.softmax(scores, dim=0) @ mem["v"]
