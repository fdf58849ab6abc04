r"""Recurrent network as cache: an RNN cell folds every key into one key and every value into one value.

Idea (the book's "recurrent cache", size 1×2): instead of keeping past pairs, run two small recurrent networks over
the sequence, one over the keys and one over the values. Each keeps a hidden vector of the same width as its input,
so the memory is one key k̄ and one value v̄, exactly like the running mean, but the update is a learned nonlinear
function ``Mem_i = f((k_i, v_i), Mem_{i-1})`` instead of an average. Here the weights are given (fixed, not
trained): the point is the shape of the recurrence, h_t = f(x_t, h_{t-1}).

Recurrences (h is k̄ for the key cell with input k_i, v̄ for the value cell with input v_i; σ = logistic sigmoid):

    Elman:  h_i = tanh(W x_i + b_W + U h_{i-1} + b_U)        (b_W + b_U is the single bias b of the textbook cell)
    GRU:    r = σ(W_r x_i + b_Wr + U_r h_{i-1} + b_Ur),   z = σ(W_z x_i + b_Wz + U_z h_{i-1} + b_Uz),
            n = tanh(W_n x_i + b_Wn + r ⊙ (U_n h_{i-1} + b_Un)),   h_i = (1 − z) ⊙ n + z ⊙ h_{i-1}

with h_{-1} = 0. These are PyTorch's ``nn.RNNCell`` (tanh) and ``nn.GRUCell`` equations and weight layout (the
GRU stacks the r, z, n rows), so the tests load the same tensors into those modules.

Read-out: softmax attention over the single slot (k̄, v̄). A softmax over one score is 1 whatever the score, so the
read-out is v̄ for every query: the query selects nothing, the cache only summarises.

Weights: ``weights=None`` derives them from the int hyper-parameter ``seed`` (a CPU ``torch.Generator``, uniform in
[−1/√h, 1/√h] like PyTorch's own initialisation, drawn in float64, then cast and moved), cached per (cell, width,
seed, dtype, device) and never modified; pass an :class:`RNNWeights` to use your own.

Shapes: state ``{"k": (*batch, d), "v": (*batch, d_v)}``; ``scan`` returns ``{"k": (*batch, T, d), "v": (*batch,
T, d_v)}``. Cost: O(d²) per step (3 d² multiply-adds per matrix for the GRU), O(n d²) in total, O(d) memory.

No parallel form: the tanh/sigmoid recurrence is nonlinear, so h_i is no associative combination of the inputs and
no exact scan or chunked form exists; ``parallel`` and ``attend_parallel`` are None and the loop is the algorithm.

Sources: J. L. Elman, "Finding Structure in Time", Cognitive Science 1990; K. Cho et al., "Learning Phrase
Representations using RNN Encoder-Decoder", EMNLP 2014 (the GRU); T. Xiao and J. Zhu, "Foundations of Large
Language Models", arXiv 2501.09223, ch. 2 (recurrent network as cache).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch

from reference.registry import HyperParam, ModelSpec, State, check_sequences, register, stack_states

Cell = Literal["elman", "gru"]
_GATES: dict[Cell, int] = {"elman": 1, "gru": 3}


@dataclass(frozen=True)
class CellWeights:
    """One cell's weights in PyTorch's layout: G = 1 (Elman) or 3 (GRU, rows r, z, n), width h."""

    w_ih: torch.Tensor  # W: (G·h, h), applied to the input
    w_hh: torch.Tensor  # U: (G·h, h), applied to the previous hidden state
    b_ih: torch.Tensor  # (G·h,)
    b_hh: torch.Tensor  # (G·h,)

    def to(self, dtype: torch.dtype, device: torch.device) -> CellWeights:
        """The same weights as ``dtype`` on ``device`` (no copy when they already are)."""
        return CellWeights(
            *(x.to(dtype=dtype, device=device) for x in (self.w_ih, self.w_hh, self.b_ih, self.b_hh))
        )


@dataclass(frozen=True)
class RNNWeights:
    """The two cells of the cache: ``key`` runs over the keys (width d), ``value`` over the values (width d_v)."""

    key: CellWeights
    value: CellWeights


@functools.lru_cache(maxsize=64)
def _cell_weights(
    cell: Cell, h: int, seed: int, role: int, dtype: torch.dtype, device: torch.device
) -> CellWeights:
    """Deterministic weights: uniform in [−1/√h, 1/√h], drawn in float64 from a CPU generator (role 0 key, 1 value)."""
    g = torch.Generator().manual_seed(2 * seed + role)
    bound = h**-0.5 if h > 0 else 0.0
    shapes = [(_GATES[cell] * h, h), (_GATES[cell] * h, h), (_GATES[cell] * h,), (_GATES[cell] * h,)]
    drawn = [torch.rand(s, generator=g, dtype=torch.float64) * (2 * bound) - bound for s in shapes]
    return CellWeights(*drawn).to(dtype, device)


def rnn_weights(
    cell: Cell,
    d: int,
    *,
    d_v: int | None = None,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> RNNWeights:
    """The weights that ``seed`` stands for: the key cell (width d) and the value cell (width d_v, default d).

    Cached and shared between calls: read them, never modify them in place.
    """
    dev = torch.device(device)
    value_width = d if d_v is None else d_v
    return RNNWeights(
        _cell_weights(cell, d, seed, 0, dtype, dev), _cell_weights(cell, value_width, seed, 1, dtype, dev)
    )


def _cell(cell: Cell, w: CellWeights, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """One step of the cell: the new hidden state from the input ``x`` and the old state ``h``, ``(*batch, h)``."""
    # W x + b_W and U h + b_U for every gate at once
    gx = x @ w.w_ih.T + w.b_ih  # (*batch, G·h)
    gh = h @ w.w_hh.T + w.b_hh  # (*batch, G·h)
    if cell == "elman":
        # h_i = tanh(W x_i + b_W + U h_{i-1} + b_U)
        return torch.tanh(gx + gh)  # (*batch, h)
    x_r, x_z, x_n = gx.chunk(3, dim=-1)  # each (*batch, h)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)  # each (*batch, h)
    r = torch.sigmoid(x_r + h_r)  # reset gate (*batch, h)
    z = torch.sigmoid(x_z + h_z)  # update gate (*batch, h)
    # n = tanh(W_n x + b_Wn + r ⊙ (U_n h + b_Un)), then h_i = (1 − z) ⊙ n + z ⊙ h_{i-1}
    n = torch.tanh(x_n + r * h_n)  # (*batch, h)
    return (1 - z) * n + z * h  # (*batch, h)


def rnn_init(
    d: int,
    *,
    batch: Sequence[int] = (),
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    d_v: int | None = None,
    seed: int = 0,
    weights: RNNWeights | None = None,
) -> State:
    """Mem_{-1}: k̄ = 0 ``(*batch, d)`` and v̄ = 0 ``(*batch, d_v)``, for both cells (h_{-1} = 0)."""
    del seed, weights
    batch = tuple(batch)
    return {
        "k": torch.zeros((*batch, d), dtype=dtype, device=device),  # (*batch, d)
        "v": torch.zeros((*batch, d if d_v is None else d_v), dtype=dtype, device=device),  # (*batch, d_v)
    }


def _step(
    cell: Cell, mem: State, k: torch.Tensor, v: torch.Tensor, seed: int, weights: RNNWeights | None
) -> State:
    """k̄_i = cell_key(k_i, k̄_{i-1}), v̄_i = cell_value(v_i, v̄_{i-1}); dtype promoted, on the state's device."""
    dtype = torch.promote_types(mem["k"].dtype, torch.promote_types(k.dtype, v.dtype))
    device = mem["k"].device
    if weights is None:
        weights = rnn_weights(cell, k.shape[-1], d_v=v.shape[-1], seed=seed, dtype=dtype, device=device)
    new_k = _cell(cell, weights.key.to(dtype, device), k.to(dtype), mem["k"].to(dtype))  # (*batch, d)
    new_v = _cell(cell, weights.value.to(dtype, device), v.to(dtype), mem["v"].to(dtype))  # (*batch, d_v)
    return {"k": new_k, "v": new_v}


def rnn_elman_step(
    mem: State, k: torch.Tensor, v: torch.Tensor, *, seed: int = 0, weights: RNNWeights | None = None
) -> State:
    """Elman cells: k̄_i = tanh(W k_i + U k̄_{i-1} + b), v̄_i likewise. Pure; broadcasts over batch dims."""
    return _step("elman", mem, k, v, seed, weights)


def rnn_gru_step(
    mem: State, k: torch.Tensor, v: torch.Tensor, *, seed: int = 0, weights: RNNWeights | None = None
) -> State:
    """GRU cells (PyTorch's equations) over the keys and over the values. Pure; broadcasts over batch dims."""
    return _step("gru", mem, k, v, seed, weights)


def rnn_read(
    mem: State, q: torch.Tensor, *, seed: int = 0, weights: RNNWeights | None = None
) -> torch.Tensor:
    """Att(q, Mem) over the single slot (k̄, v̄): the softmax weight is 1, so y = v̄ for every ``q: (*batch, d)``."""
    del seed, weights
    dtype = torch.promote_types(mem["v"].dtype, q.dtype)
    # s = q · k̄ / √d, one score per query
    score = (q.to(dtype) * mem["k"].to(dtype)).sum(dim=-1, keepdim=True) / q.shape[-1] ** 0.5  # (*batch, 1)
    # y = softmax(s) v̄ = 1 · v̄
    return torch.softmax(score, dim=-1) * mem["v"].to(dtype)  # (*batch, d_v)


def _scan(cell: Cell, K: torch.Tensor, V: torch.Tensor, seed: int, weights: RNNWeights | None) -> State:
    """The specification: ``step`` over t = 0..T-1, every state stacked on the time axis."""
    dtype = check_sequences(K, V)
    *batch, T, D = K.shape
    mem = rnn_init(D, batch=batch, dtype=dtype, device=K.device, d_v=V.shape[-1])
    states: list[State] = []
    for t in range(T):
        mem = _step(cell, mem, K[..., t, :], V[..., t, :], seed, weights)  # k: (*batch, D), v: (*batch, D_v)
        states.append(mem)
    return stack_states(states, mem, axis=len(batch))  # k: (*batch, T, D), v: (*batch, T, D_v)


def rnn_elman_scan(
    K: torch.Tensor, V: torch.Tensor, *, seed: int = 0, weights: RNNWeights | None = None
) -> State:
    """``rnn_elman_step`` over t = 0..T-1. ``K: (*batch, T, D)``, ``V: (*batch, T, D_v)``."""
    return _scan("elman", K, V, seed, weights)


def rnn_gru_scan(
    K: torch.Tensor, V: torch.Tensor, *, seed: int = 0, weights: RNNWeights | None = None
) -> State:
    """``rnn_gru_step`` over t = 0..T-1. ``K: (*batch, T, D)``, ``V: (*batch, T, D_v)``."""
    return _scan("gru", K, V, seed, weights)


_SEED = HyperParam("int", 0, 2**31 - 1, 0)

ELMAN_SPEC = register(
    ModelSpec(
        id="rnn-elman",
        title="Recurrent cache (Elman RNN over keys and values)",
        hyperparams={"seed": _SEED},
        state_layout={"k": ("d",), "v": ("d",)},
        fixed_size=True,
        cost_per_step="O(d^2)",
        cost_total="O(n d^2)",
        init=rnn_init,
        step=rnn_elman_step,
        read=rnn_read,
        scan=rnn_elman_scan,
        parallel=None,
        paper="Elman 1990; Xiao & Zhu 2025, ch. 2",
    )
)

GRU_SPEC = register(
    ModelSpec(
        id="rnn-gru",
        title="Recurrent cache (GRU over keys and values)",
        hyperparams={"seed": _SEED},
        state_layout={"k": ("d",), "v": ("d",)},
        fixed_size=True,
        cost_per_step="O(d^2)",
        cost_total="O(n d^2)",
        init=rnn_init,
        step=rnn_gru_step,
        read=rnn_read,
        scan=rnn_gru_scan,
        parallel=None,
        paper="Cho et al. 2014; Xiao & Zhu 2025, ch. 2",
    )
)
