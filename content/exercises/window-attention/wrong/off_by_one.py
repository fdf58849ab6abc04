import torch


def attend(Q, K, V, n_c):
    # the window starts at i - n_c: n_c + 1 pairs once it is full
    T, d = Q.shape
    out = []
    for i in range(T):
        lo = max(0, i - n_c)
        w = torch.softmax(K[lo : i + 1] @ Q[i] / d**0.5, dim=0)
        out.append(w @ V[lo : i + 1])
    return torch.stack(out)
