import torch

HISTORY = []  # wrong: every memory this process returned, kept outside mem and shared by every call


def init_memory(d, lr, momentum, decay):
    return {"W": torch.zeros(d, d), "S": torch.zeros(d, d)}


def update(mem, k, v, lr, momentum, decay):
    # continues from the last memory in its own list instead of from mem (mem is used only on the first call)
    last = HISTORY[-1] if HISTORY else mem
    S = momentum * last["S"] - lr * torch.outer(last["W"] @ k - v, k)
    new = {"W": (1 - decay) * last["W"] + S, "S": S}
    HISTORY.append(new)
    return new


def read(mem, q, lr, momentum, decay):
    return mem["W"] @ q
