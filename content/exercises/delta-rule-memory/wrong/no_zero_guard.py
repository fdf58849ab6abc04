
import torch


def phi(x):
    # φ(x) = x / ‖x‖, forgetting the case x = 0
    norm = torch.linalg.vector_norm(x)
    return x / norm  # no guard: a zero key or query gives 0/0


def init_memory(d, beta):
    # W_{-1} = 0
    return {"W": torch.zeros(d, d)}  # (d, d)


def update(mem, k, v, beta):
    W, fk = mem["W"], phi(k)  # (d, d), (d,)
    recalled = W @ fk  # v̄_i = W_{i-1} φ(k_i)
    # W_i = W_{i-1} + β (v_i − v̄_i) φ(k_i)^T
    return {"W": W + beta * torch.outer(v - recalled, fk)}  # (d, d)


def read(mem, q, beta):
    # y = W φ(q)
    return mem["W"] @ phi(q)  # (d,)
