import torch


def init_memory(d, n_c):
    return {"k": torch.zeros(n_c, d), "v": torch.zeros(n_c, d), "n": torch.tensor(0.0)}


def update(mem, k, v, n_c):
    new_k = torch.cat([mem["k"][1:], k[None]])
    new_v = torch.cat([mem["v"][1:], v[None]])
    return {"k": new_k, "v": new_v, "n": torch.clamp(mem["n"] + 1, max=n_c)}


def read(mem, q, n_c):
    # wrong: no mask, so while the window fills the empty zero rows in front take part in the softmax
    scores = mem["k"] @ q / q.shape[0] ** 0.5
    return torch.softmax(scores, dim=0) @ mem["v"]
