import torch


def attend(Q, K, V, n_c):
    """y_i = softmax over the last n_c keys (j = i-n_c+1 .. i, fewer at the start) of q_i·k_j/√d, applied to V."""
    T, d = Q.shape
    out = torch.zeros(T, V.shape[1])
    # for each position i: the window K[lo : i + 1], V[lo : i + 1] with lo = max(0, i - n_c + 1)
    return out
