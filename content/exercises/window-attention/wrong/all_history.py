import torch


def attend(Q, K, V, n_c):
    # scores every earlier key, then keeps the last n_c: right values, O(T²) in total
    T, d = Q.shape
    out = []
    for i in range(T):
        scores = K[: i + 1] @ Q[i] / d**0.5  # (i + 1,): all of the history
        keep = scores[-n_c:]
        w = torch.softmax(keep, dim=0)
        out.append(w @ V[: i + 1][-n_c:])
    return torch.stack(out)
