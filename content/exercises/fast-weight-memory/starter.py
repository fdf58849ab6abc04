"""Fast weights: linear attention as a matrix memory.

M_{-1} = 0,   M_i = M_{i-1} + v_i k_i^T,   read(M, q) = M q
"""

import torch


def init_memory(d: int) -> dict[str, torch.Tensor]:
    """The empty memory M_{-1}: {"M": a (d, d) tensor of zeros}."""
    raise NotImplementedError("TODO: return the empty memory")


def update(mem: dict[str, torch.Tensor], k: torch.Tensor, v: torch.Tensor) -> dict[str, torch.Tensor]:
    """M_i = M_{i-1} + v_i k_i^T. `mem` is {"M": (d, d)}, k and v are (d,). Return a new dict."""
    raise NotImplementedError("TODO: add the outer product of v and k")


def read(mem: dict[str, torch.Tensor], q: torch.Tensor) -> torch.Tensor:
    """The read-out M q, a (d,) tensor."""
    raise NotImplementedError("TODO: multiply the memory by the query")
