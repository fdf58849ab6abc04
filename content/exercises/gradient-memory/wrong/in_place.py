import torch


def init_memory(d, lr, momentum, decay):
    return {"W": torch.zeros(d, d), "S": torch.zeros(d, d)}


def update(mem, k, v, lr, momentum, decay):
    # wrong: the step is right, but it is written into the tensors of the memory it was given (an optimizer's
    # in-place update), and the same dict is returned
    grad = torch.outer(mem["W"] @ k - v, k)
    mem["S"].mul_(momentum).sub_(lr * grad)
    mem["W"].mul_(1 - decay).add_(mem["S"])
    return mem


def read(mem, q, lr, momentum, decay):
    return mem["W"] @ q
