"""Normalised linear attention: the memory (M, z).

φ(x) = elu(x) + 1
M_{-1} = 0,  z_{-1} = 0
M_i = M_{i-1} + v_i φ(k_i)^T,   z_i = z_{i-1} + φ(k_i),   read(M, z, q) = M φ(q) / (z · φ(q))
"""

import torch


def init_memory(d: int) -> dict[str, torch.Tensor]:
    """The empty memory: {"M": zeros (d, d), "z": zeros (d,)}."""
    # TODO: this is the right empty memory; update and read below still need writing
    return {"M": torch.zeros(d, d), "z": torch.zeros(d)}


def update(mem: dict[str, torch.Tensor], k: torch.Tensor, v: torch.Tensor) -> dict[str, torch.Tensor]:
    """(M_i, z_i) from (M_{i-1}, z_{i-1}) = mem and the pair (k_i, v_i); return a new dict with keys M and z."""
    # TODO: add v φ(k)^T to M and φ(k) to z
    return {"M": mem["M"].clone(), "z": mem["z"].clone()}


def read(mem: dict[str, torch.Tensor], q: torch.Tensor) -> torch.Tensor:
    """The read-out M φ(q) / (z · φ(q)), a (d,) tensor."""
    # TODO: apply φ to q, then divide the numerator by the normaliser
    return torch.zeros(q.shape[0])
