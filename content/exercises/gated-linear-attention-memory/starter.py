"""Gated (decayed) linear attention as a matrix memory.

M_{-1} = 0,   M_i = gamma * M_{i-1} + v_i k_i^T,   read(M, q) = M q
"""

import torch


def init_memory(d: int, gamma: float) -> dict[str, torch.Tensor]:
    """The empty memory M_{-1}: {"M": a (d, d) tensor of zeros}."""
    return {"M": torch.zeros(d, d)}


def update(
    mem: dict[str, torch.Tensor], k: torch.Tensor, v: torch.Tensor, gamma: float
) -> dict[str, torch.Tensor]:
    """M_i = gamma * M_{i-1} + v_i k_i^T. `mem` is {"M": (d, d)}, k and v are (d,). Return a new dict."""
    # TODO: decay the old matrix and write the new pair (this returns the old memory unchanged)
    return {"M": mem["M"]}


def read(mem: dict[str, torch.Tensor], q: torch.Tensor, gamma: float) -> torch.Tensor:
    """The read-out M q, a (d,) tensor."""
    # TODO: this returns zeros
    return torch.zeros(mem["M"].shape[0])
