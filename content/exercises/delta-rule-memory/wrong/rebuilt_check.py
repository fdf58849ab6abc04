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
    # wrong: "double-checks" W every step by replaying the rule over every pair seen so far. The memory and the
    # values stay right, but step i replays i pairs: the whole sequence costs O(T^2 d^2), not O(T d^2)
    PAIRS.append((fk, v))
    check = torch.zeros_like(W)
    for f, value in PAIRS:
        check = check + beta * torch.outer(value - check @ f, f)
    DRIFT[0] = float((check - W).abs().max())  # kept "for debugging", never used
    return {"W": W}


DRIFT = [0.0]


def read(mem, q, beta):
    return mem["W"] @ phi(q)

