"""The delta rule: fast weights that correct themselves.

φ(x) = x / ‖x‖ (φ(0) = 0)
W_{-1} = 0,   v̄_i = W_{i-1} φ(k_i),   W_i = W_{i-1} + β (v_i − v̄_i) φ(k_i)^T,   read(W, q) = W φ(q)
"""

import torch


def init_memory(d: int, beta: float) -> dict[str, torch.Tensor]:
    """The empty memory W_{-1}: {"W": a (d, d) tensor of zeros}."""
    # TODO: this is the right empty memory; update and read below still need writing
    return {"W": torch.zeros(d, d)}


def update(
    mem: dict[str, torch.Tensor], k: torch.Tensor, v: torch.Tensor, beta: float
) -> dict[str, torch.Tensor]:
    """W_i from W_{i-1} = mem["W"] and the pair (k_i, v_i), with step size beta. Return a new dict {"W": ...}."""
    # TODO: normalise k, recall what W returns for it, and write beta times the error
    return {"W": mem["W"].clone()}


def read(mem: dict[str, torch.Tensor], q: torch.Tensor, beta: float) -> torch.Tensor:
    """The read-out W φ(q), a (d,) tensor (beta is passed but not needed here)."""
    # TODO: normalise q like the keys, then multiply
    return torch.zeros(q.shape[0])
