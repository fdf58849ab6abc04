"""A running mean of every pair seen, as submitted by a classmate. It prints the right numbers on one sequence,
yet the recurrence check rejects it. Find out why and fix `update`.

The recurrence it should follow: Mem_i = ((k_i, v_i) + i * Mem_{i-1}) / (i + 1), with i counted from 0.
"""

import torch

PAIRS = []  # every (k, v) this process has been given


def init_memory(d: int) -> dict[str, torch.Tensor]:
    """The empty memory: {"k": zeros (d,), "v": zeros (d,), "n": torch.tensor(0.0)}."""
    PAIRS.clear()  # a new sequence starts
    return {"k": torch.zeros(d), "v": torch.zeros(d), "n": torch.tensor(0.0)}


def update(mem: dict[str, torch.Tensor], k: torch.Tensor, v: torch.Tensor) -> dict[str, torch.Tensor]:
    """Mem_i from Mem_{i-1} = mem and the pair (k, v); return a new dict with keys k, v and n."""
    PAIRS.append((k, v))
    keys = torch.stack([pair[0] for pair in PAIRS])  # (i + 1, d)
    values = torch.stack([pair[1] for pair in PAIRS])  # (i + 1, d)
    return {"k": keys.mean(dim=0), "v": values.mean(dim=0), "n": torch.tensor(float(len(PAIRS)))}


def read(mem: dict[str, torch.Tensor], q: torch.Tensor) -> torch.Tensor:
    """softmax attention of q over the one slot (mean key, mean value): this part is right, leave it."""
    score = (q * mem["k"]).sum(dim=0, keepdim=True) / q.shape[0] ** 0.5  # (1,)
    return torch.softmax(score, dim=0) * mem["v"]  # (d,)
