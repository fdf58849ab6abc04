"""Neural network as memory: a linear map W trained by one gradient step per token.

loss(W; k, v) = 1/2 ||W k - v||^2,  gradient (W k - v) k^T
S_i = momentum S_{i-1} - lr * gradient at W_{i-1},   W_i = (1 - decay) W_{i-1} + S_i,   read(Mem_i, q) = W_i q
"""

import torch


def init_memory(d: int, lr: float, momentum: float, decay: float) -> dict[str, torch.Tensor]:
    """The empty memory: {"W": zeros (d, d), "S": zeros (d, d)}."""
    return {"W": torch.zeros(d, d), "S": torch.zeros(d, d)}


def update(
    mem: dict[str, torch.Tensor], k: torch.Tensor, v: torch.Tensor, lr: float, momentum: float, decay: float
) -> dict[str, torch.Tensor]:
    """Mem_i from Mem_{i-1} = mem and the pair (k, v): one gradient step on the loss of this pair.
    Return a new dict with keys W and S."""
    # TODO: take the gradient at mem["W"], update S, then W (this returns the old memory unchanged)
    return dict(mem)


def read(
    mem: dict[str, torch.Tensor], q: torch.Tensor, lr: float, momentum: float, decay: float
) -> torch.Tensor:
    """The memory's answer to the query q: a (d,) tensor."""
    # TODO: this returns zeros
    return torch.zeros(mem["W"].shape[0])
