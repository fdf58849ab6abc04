"""A recurrent network as the memory (GRU cell).

Each cell, h_{-1} = 0:  r = sigmoid(W_r x + b_Wr + U_r h + b_Ur),  z = sigmoid(W_z x + b_Wz + U_z h + b_Uz),
n = tanh(W_n x + b_Wn + r * (U_n h + b_Un)),  h_i = (1 - z) * n + z * h_{i-1}.
The key cell (x = k_i, weights of role 0) keeps its h in mem["k"], the value cell (x = v_i, role 1) in mem["v"].
read = softmax attention over that one slot.
"""

import torch


def gru_weights(h: int, seed: int, role: int) -> list[torch.Tensor]:
    """The given weights [W, U, b_W, b_U] of one GRU cell of width h (role 0: the key cell, 1: the value cell).

    Keep this function as it is: it draws exactly the grader's weights. W and U are (3h, h), b_W and b_U are (3h,):
    rows 0..h-1 belong to the reset gate r, rows h..2h-1 to the update gate z, rows 2h..3h-1 to the candidate n.
    """
    g = torch.Generator().manual_seed(2 * seed + role)
    bound = h**-0.5
    shapes = [(3 * h, h), (3 * h, h), (3 * h,), (3 * h,)]  # W, U, b_W, b_U, drawn in this order
    # uniform in [-1/sqrt(h), 1/sqrt(h)], drawn in float64, then cast to float32
    return [(torch.rand(s, generator=g, dtype=torch.float64) * (2 * bound) - bound).float() for s in shapes]


def init_memory(d: int, seed: int) -> dict[str, torch.Tensor]:
    """The empty memory: both hidden states start at zero, {"k": zeros (d,), "v": zeros (d,)}."""
    return {"k": torch.zeros(d), "v": torch.zeros(d)}


def update(
    mem: dict[str, torch.Tensor], k: torch.Tensor, v: torch.Tensor, seed: int
) -> dict[str, torch.Tensor]:
    """Mem_i from Mem_{i-1} = mem and the pair (k, v): one step of the key cell on k and of the value cell on v.
    Return a new dict with keys k and v."""
    # TODO: W, U, b_W, b_U = gru_weights(k.shape[0], seed, role=0) for the key cell, role=1 for the value cell;
    # split W x + b_W and U h + b_U into their r, z, n parts, then one GRU step per cell
    # (this returns the old memory unchanged)
    return {"k": mem["k"], "v": mem["v"]}


def read(mem: dict[str, torch.Tensor], q: torch.Tensor, seed: int) -> torch.Tensor:
    """Softmax attention of q over the single slot (mem["k"], mem["v"]): a (d,) tensor."""
    # TODO: score q against the one key, softmax, weigh the one value (this returns zeros instead)
    return torch.zeros_like(mem["v"])
