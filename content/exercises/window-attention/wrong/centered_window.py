import torch


def attend(Q, K, V, n_c):
    # a window centred on i: it reads n_c // 2 positions into the future
    T, d = Q.shape
    out = []
    for i in range(T):
        lo, hi = max(0, i - n_c // 2), min(T, i + n_c // 2 + 1)
        w = torch.softmax(K[lo:hi] @ Q[i] / d**0.5, dim=0)
        out.append(w @ V[lo:hi])
    return torch.stack(out)
