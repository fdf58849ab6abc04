"""Attention sinks: the first n_sink pairs for good, plus a window of the n_recent newest ones.

Token i < S fills sink slot i; later tokens shift into the recent FIFO (oldest row falls out); n = min(i + 1, S + W).
read: softmax attention over the valid cached pairs, RoPE at positions inside the cache, query at n - 1.
"""

import torch


def init_memory(d: int, n_sink: int, n_recent: int) -> dict[str, torch.Tensor]:
    """The empty memory: sink_k, sink_v zeros (n_sink, d); k, v zeros (n_recent, d); n = torch.tensor(0.0)."""
    # TODO: this is the right empty memory; update and read below still need writing
    return {
        "sink_k": torch.zeros(n_sink, d),
        "sink_v": torch.zeros(n_sink, d),
        "k": torch.zeros(n_recent, d),
        "v": torch.zeros(n_recent, d),
        "n": torch.tensor(0.0),
    }


def update(
    mem: dict[str, torch.Tensor], k: torch.Tensor, v: torch.Tensor, n_sink: int, n_recent: int
) -> dict[str, torch.Tensor]:
    """Mem_i from Mem_{i-1} = mem and the pair (k_i, v_i). Return a new dict with the same five keys."""
    # TODO: fill a sink slot while n < n_sink, else shift the pair into the recent window; update n
    return dict(mem)


def rope(x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Rotate-half RoPE of x (..., d) at positions pos (...,): see the statement."""
    # TODO
    return x


def read(mem: dict[str, torch.Tensor], q: torch.Tensor, n_sink: int, n_recent: int) -> torch.Tensor:
    """Softmax attention of q over the valid cached pairs, a (d,) tensor."""
    # TODO: positions inside the cache, RoPE, scores / sqrt(d), mask the empty slots, softmax, weighted values
    return torch.zeros(q.shape[0])
