import torch


def init_memory(d):
    # Mem_{-1}: no pairs yet, K and V have 0 rows
    return {"k": torch.zeros(0, d), "v": torch.zeros(0, d)}


def update(mem, k, v):
    # K_i = [K_{i-1}; k_i], V_i = [V_{i-1}; v_i]: the new pair becomes the last row (new tensors, mem untouched)
    return {"k": torch.cat([mem["k"], k[None]]), "v": torch.cat([mem["v"], v[None]])}  # (t + 1, d) each


def read(mem, q):
    # y = softmax(K q / sqrt(d))ᵀ V over all t rows
    scores = mem["k"] @ q / q.shape[0] ** 0.5  # (t,)
    return torch.softmax(scores, dim=0) @ mem["v"]  # (d,)
