import torch

PAIRS = []  # every (phi(k), v) this process has seen


def phi(x):
    norm = torch.linalg.vector_norm(x)
    return x / norm if norm > 0 else torch.zeros_like(x)


def init_memory(d, beta):
    return {"W": torch.zeros(d, d)}


def update(mem, k, v, beta):
    fk = phi(k)
    W = mem["W"] + beta * torch.outer(v - mem["W"] @ fk, fk)  # the right value, and the only one returned
    # wrong: "double-checks" W every step against a rough rebuild from every pair seen so far (the sum rule,
    # Σ β v f^T, from the whole history stacked into two i × d matrices). The memory and the values stay right and
    # the torch calls per step stay the same, but step i stacks i pairs: the sequence moves O(T^2 d) numbers
    PAIRS.append((fk, v))
    F = torch.stack([f for f, _ in PAIRS])  # (i, d)
    V = torch.stack([value for _, value in PAIRS])  # (i, d)
    DRIFT[0] = float((beta * V.T @ F - W).abs().max())  # kept "for debugging", never used
    return {"W": W}


DRIFT = [0.0]


def read(mem, q, beta):
    return mem["W"] @ phi(q)
