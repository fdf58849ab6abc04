import torch


def gru_weights(h, seed, role):
    g = torch.Generator().manual_seed(2 * seed + role)
    bound = h**-0.5
    shapes = [(3 * h, h), (3 * h, h), (3 * h,), (3 * h,)]
    return [(torch.rand(s, generator=g, dtype=torch.float64) * (2 * bound) - bound).float() for s in shapes]


def init_memory(d, seed):
    return {"k": torch.zeros(d), "v": torch.zeros(d)}


def update(mem, k, v, seed):
    # wrong: the blend is right, but it is written into the tensors of the memory it was given
    for key, x, role in (("k", k, 0), ("v", v, 1)):
        W, U, b_W, b_U = gru_weights(x.shape[0], seed, role)
        h = mem[key]
        x_r, x_z, x_n = (W @ x + b_W).chunk(3)
        h_r, h_z, h_n = (U @ h + b_U).chunk(3)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h.mul_(z).add_((1 - z) * n)  # h <- z * h + (1 - z) * n, in place
    return mem


def read(mem, q, seed):
    s = (q @ mem["k"] / q.shape[0] ** 0.5).reshape(1)
    return torch.softmax(s, dim=0) * mem["v"]

