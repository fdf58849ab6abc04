import torch


def attend(Q, K, V, n_c):
    """Sliding-window attention, all rows at once, in O(T · n_c · d) time and memory.

    Pad the keys and values with n_c - 1 zero rows in front; row i of the padded tensors' windows of length n_c
    (unfold) is then exactly the pairs i - n_c + 1 .. i, with the padding masked out of the softmax.
    """
    T, d = Q.shape
    pad = n_c - 1
    K_pad = torch.cat([K.new_zeros(pad, d), K])  # (T + n_c - 1, d)
    V_pad = torch.cat([V.new_zeros(pad, V.shape[1]), V])  # (T + n_c - 1, d_v)
    K_win = K_pad.unfold(0, n_c, 1).transpose(1, 2)  # (T, n_c, d): window of row i, oldest first
    V_win = V_pad.unfold(0, n_c, 1).transpose(1, 2)  # (T, n_c, d_v)
    scores = (K_win @ Q.unsqueeze(-1)).squeeze(-1) / d**0.5  # (T, n_c): q_i · k_j / √d
    # slot s of row i holds position i - (n_c - 1) + s, which exists only if it is >= 0
    position = torch.arange(T).unsqueeze(1) - pad + torch.arange(n_c)  # (T, n_c)
    scores = scores.masked_fill(position < 0, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (T, n_c)
    return (weights.unsqueeze(1) @ V_win).squeeze(1)  # (T, d_v)
