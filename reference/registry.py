"""The registry of reference memory models (the grading oracle).

Every memory model in the course is a recurrence ``Mem_i = f((k_i, v_i), Mem_{i-1})``. A model module describes
itself with one :class:`ModelSpec` and calls :func:`register` at import time; ``reference/__init__.py`` imports
every model module, so ``reference.MODELS`` is complete as soon as ``reference`` is imported.

The callables in a spec follow one contract (``docs/INTERFACES.md``, section "reference/"):

* ``init(d, *, batch=(), dtype=torch.float32, device="cpu", **hp)`` returns ``Mem_{-1}``;
* ``step(mem, k, v, **hp)`` returns ``Mem_i``, is pure, and broadcasts over leading batch dims ``k, v: (*batch, d)``;
* ``read(mem, q, **hp)`` returns the read-out for one query ``q: (*batch, d)`` (or the spec has ``read=None``);
* ``scan(K, V, **hp)`` is the loop of ``step`` (the specification), ``K, V: (B, H, T, D)``, and returns every state
  stacked on the time axis (the axis right after the batch dims);
* ``parallel(K, V, **hp)`` returns the same as ``scan`` without a Python loop (or the spec has ``parallel=None``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch

State = dict[str, torch.Tensor]
"""A memory state: tensor name -> tensor, e.g. ``{"M": (*batch, d, d)}``."""


@dataclass(frozen=True)
class HyperParam:
    """One hyper-parameter of a model: its kind, the closed range ``[low, high]`` and the default."""

    kind: Literal["int", "float"]
    low: int | float
    high: int | float
    default: int | float

    def __post_init__(self) -> None:
        if self.kind not in ("int", "float"):
            raise ValueError(f"HyperParam.kind must be 'int' or 'float', not {self.kind!r}")
        if self.kind == "int":
            for name in ("low", "high", "default"):
                value = getattr(self, name)
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError(f"int HyperParam needs an int {name}, got {value!r}")
        if not self.low <= self.default <= self.high:
            raise ValueError(
                f"HyperParam needs low <= default <= high, got {self.low}, {self.default}, {self.high}"
            )


@dataclass(frozen=True)
class ModelSpec:
    """What the rest of memlab knows about one reference memory model.

    Frozen, but shallowly: treat ``hyperparams`` and ``state_layout`` as read-only.
    """

    id: str
    title: str
    hyperparams: dict[str, HyperParam]
    # state tensor name -> symbolic shape after the batch dims, e.g. {"M": ("d", "d")}, {"n": ()}
    state_layout: dict[str, tuple[str, ...]]
    fixed_size: bool
    cost_per_step: str
    cost_total: str
    init: Callable[..., State]
    step: Callable[..., State]
    read: Callable[..., torch.Tensor] | None
    scan: Callable[..., State]
    parallel: Callable[..., State] | None

    def state_shapes(self, d: int, *, batch: Sequence[int] = (), **sizes: int) -> dict[str, tuple[int, ...]]:
        """Resolve ``state_layout`` to concrete shapes ``(*batch, ...)``.

        Symbols are looked up in ``sizes``, then ``d``, then the defaults of int hyper-parameters; an unknown
        symbol raises ``KeyError``.
        """
        known: dict[str, int] = {
            name: int(hp.default) for name, hp in self.hyperparams.items() if hp.kind == "int"
        }
        known["d"] = d
        known.update(sizes)
        shapes: dict[str, tuple[int, ...]] = {}
        for name, symbols in self.state_layout.items():
            missing = [s for s in symbols if s not in known]
            if missing:
                raise KeyError(f"{self.id}: no size given for {missing} in the layout of {name!r}")
            shapes[name] = (*batch, *(known[s] for s in symbols))
        return shapes


MODELS: dict[str, ModelSpec] = {}
"""Every registered model, by id. Filled by the model modules at import time; do not edit elsewhere."""


def register(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to :data:`MODELS`; a second model with the same id is a ``ValueError``."""
    if spec.id in MODELS:
        raise ValueError(f"a model with id {spec.id!r} is already registered")
    MODELS[spec.id] = spec
    return spec


def get_model(id: str) -> ModelSpec:
    """The registered model ``id``; ``KeyError`` listing the known ids if there is none."""
    try:
        return MODELS[id]
    except KeyError:
        known = ", ".join(sorted(MODELS)) or "(none)"
        raise KeyError(f"unknown model {id!r}; known ids: {known}") from None


def check_sequences(K: torch.Tensor, V: torch.Tensor) -> torch.dtype:
    """Validate ``K: (*batch, T, D_k)``, ``V: (*batch, T, D_v)`` for ``scan``/``parallel``; return the state dtype."""
    if K.dim() < 2 or V.dim() < 2 or K.shape[:-1] != V.shape[:-1]:
        raise ValueError(
            f"K and V must be (*batch, T, D) with the same (*batch, T), got {tuple(K.shape)}, {tuple(V.shape)}"
        )
    if K.device != V.device:
        raise ValueError(f"K and V must be on the same device, got {K.device} and {V.device}")
    dtype = torch.promote_types(K.dtype, V.dtype)
    if not dtype.is_floating_point:
        raise TypeError(f"K and V must be floating point, got {K.dtype} and {V.dtype}")
    return dtype


def stack_states(states: Sequence[State], empty: State, axis: int) -> State:
    """Stack per-step states on a new time ``axis``; with no steps, a size-0 time axis shaped like ``empty``."""
    if not states:
        return {name: x.unsqueeze(axis).narrow(axis, 0, 0) for name, x in empty.items()}
    return {name: torch.stack([s[name] for s in states], dim=axis) for name in empty}
