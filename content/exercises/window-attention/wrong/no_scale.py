import torch


def attend(Q, K, V, n_c):
    # forgets the 1/√d scale of the scores
    T, d = Q.shape
    out = []
    for i in range(T):
        lo = max(0, i - n_c + 1)
        w = torch.softmax(K[lo : i + 1] @ Q[i], dim=0)
        out.append(w @ V[lo : i + 1])
    return torch.stack(out)
