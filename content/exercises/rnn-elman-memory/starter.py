"""A recurrent network as the memory (Elman cell).

Each cell: h_i = tanh(W x_i + b_W + U h_{i-1} + b_U), h_{-1} = 0. The key cell (input x_i = k_i, weights of role 0)
keeps its h in mem["k"], the value cell (x_i = v_i, role 1) in mem["v"]. read = softmax attention over that one slot.
"""

import torch


def elman_weights(h: int, seed: int, role: int) -> list[torch.Tensor]:
    """The given weights [W, U, b_W, b_U] of one Elman cell of width h (role 0: the key cell, 1: the value cell).

    Keep this function as it is: it draws exactly the grader's weights. W and U are (h, h), b_W and b_U are (h,).
    """
    g = torch.Generator().manual_seed(2 * seed + role)
    bound = h**-0.5
    shapes = [(h, h), (h, h), (h,), (h,)]  # W, U, b_W, b_U, drawn in this order
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
    # TODO: W, U, b_W, b_U = elman_weights(k.shape[0], seed, role=0) for the key cell, role=1 for the value cell;
    # then one Elman step per cell (this returns the old memory unchanged)
    return {"k": mem["k"], "v": mem["v"]}


def read(mem: dict[str, torch.Tensor], q: torch.Tensor, seed: int) -> torch.Tensor:
    """Softmax attention of q over the single slot (mem["k"], mem["v"]): a (d,) tensor."""
    # TODO: score q against the one key, softmax, weigh the one value (this returns zeros instead)
    return torch.zeros_like(mem["v"])
