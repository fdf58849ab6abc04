"""The registry of reference memory models (the grading oracle).

Every memory model in the course is a recurrence ``Mem_i = f((k_i, v_i), Mem_{i-1})``. A model module describes
itself with one :class:`ModelSpec` and calls :func:`register` at import time; ``reference/__init__.py`` imports
every model module, so ``reference.MODELS`` is complete as soon as ``reference`` is imported.

The callables in a spec follow one contract (``docs/INTERFACES.md``, section "reference/"):

* ``init(d, *, batch=(), dtype=torch.float32, device="cpu", d_v=None, **hp)`` returns ``Mem_{-1}``;
* ``step(mem, k, v, **hp)`` returns ``Mem_i``, is pure, and broadcasts over leading batch dims ``k, v: (*batch, d)``;
* ``read(mem, q, **hp)`` returns the read-out for one query ``q: (*batch, d)`` (or the spec has ``read=None``);
* ``scan(K, V, **hp)`` is the loop of ``step`` (the specification), ``K, V: (B, H, T, D)``, and returns every state
  stacked on the time axis (the axis right after the batch dims). A growing memory (``fixed_size=False``) has no
  common shape to stack, so its ``scan`` returns the state after the last step instead;
* ``parallel(K, V, **hp)`` returns the same as ``scan`` without a Python loop (or the spec has ``parallel=None``);
* ``attend_parallel(Q, K, V, **hp)`` returns every read-out ``(B, H, T, D_v)`` without a Python loop over tokens:
  the same as :func:`attend_scan`, which steps and reads token by token (or the spec has ``attend_parallel=None``).

The registry also says what the model costs: ``cost_per_step`` / ``cost_total`` for the recurrence, and
``parallel_form`` names the algorithm behind ``attend_parallel``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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
    attend_parallel: Callable[..., torch.Tensor] | None = None
    parallel_form: str = ""  # e.g. "cumsum", "blocked window attention", "chunked linear attention"
    paper: str = ""  # the primary source, short form
    # a rule across hyper-parameters (e.g. "c <= n_m"): returns what is wrong, or None
    hp_rule: Callable[[Mapping[str, int | float]], str | None] | None = None
    # the work of attend_parallel's algorithm for one (batch, head) row: (T, d, hp) -> (flops, bytes it must
    # move), next to the algorithm it counts; the benchmark divides it by the machine's measured FLOP/s and
    # bandwidth to get the hardware limit. (The sizes the benchmark runs at are its own: benchmarks/reference.)
    parallel_cost: Callable[[int, int, Mapping[str, int | float]], tuple[float, float]] | None = None

    def __post_init__(self) -> None:
        if (self.attend_parallel is None) != (self.parallel_cost is None):
            raise ValueError(f"{self.id}: attend_parallel and parallel_cost come together")
        if self.attend_parallel is not None and self.read is None:
            raise ValueError(f"{self.id}: attend_parallel needs a read-out to be compared with")
        for name in self.hyperparams:
            if not name.isidentifier():
                raise ValueError(f"{self.id}: hyper-parameter name {name!r} is not a keyword")

    def check_hyperparams(self, hp: Mapping[str, int | float]) -> None:
        """``ValueError`` naming the problem unless ``hp`` are known names, in range, and satisfy ``hp_rule``."""
        unknown = sorted(set(hp) - set(self.hyperparams))
        if unknown:
            raise ValueError(
                f"{self.id}: unknown hyper-parameters {unknown}; known: {sorted(self.hyperparams)}"
            )
        for name, value in hp.items():
            spec = self.hyperparams[name]
            if spec.kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{self.id}: {name} must be an int, got {value!r}")
            if not spec.low <= value <= spec.high:
                raise ValueError(f"{self.id}: {name}={value} is outside [{spec.low}, {spec.high}]")
        if self.hp_rule is not None:
            problem = self.hp_rule({**defaults(self), **hp})
            if problem:
                raise ValueError(f"{self.id}: {problem}")

    def state_shapes(self, d: int, *, batch: Sequence[int] = (), **sizes: int) -> dict[str, tuple[int, ...]]:
        """Resolve ``state_layout`` to concrete shapes ``(*batch, ...)``.

        Symbols are looked up in ``sizes``, then ``d``, then the defaults of int hyper-parameters. In a growing
        layout (``fixed_size=False``) the other symbols name the lengths that grow and default to 0, the empty
        memory; elsewhere an unknown symbol raises ``KeyError``.
        """
        known: dict[str, int] = {
            name: int(hp.default) for name, hp in self.hyperparams.items() if hp.kind == "int"
        }
        known["d"] = d
        if not self.fixed_size:
            known.update({s: 0 for symbols in self.state_layout.values() for s in symbols if s not in known})
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


def defaults(spec: ModelSpec) -> dict[str, int | float]:
    """Every hyper-parameter of ``spec`` at its default value, ready to pass as ``**hp``."""
    return {name: hp.default for name, hp in spec.hyperparams.items()}


def attend_scan(
    spec: ModelSpec, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, **hp: object
) -> torch.Tensor:
    """The read-outs by the recurrence itself: for t = 0..T-1, Mem_t = step(Mem_{t-1}, k_t, v_t), y_t = read(Mem_t, q_t).

    ``Q, K: (*batch, T, D_k)``, ``V: (*batch, T, D_v)`` -> ``(*batch, T, D_v)``. This is what a decoder does one
    token at a time, and the specification every ``attend_parallel`` is tested against.
    """
    if spec.read is None:
        raise ValueError(f"model {spec.id!r} has no read-out")
    dtype = torch.promote_types(check_sequences(K, V), check_sequences(Q, V))
    *batch, T, D = K.shape
    mem = spec.init(D, batch=batch, dtype=dtype, device=K.device, d_v=V.shape[-1], **hp)
    # the read-outs go into one tensor, made at the first (its shape is the read's): a list of small tensors, each
    # allocated between one step's cache and the next, pinned the heap between them, and a growing cache (the full
    # KV cache) could then never reuse freed memory (4096 steps took 1.6 GB; n = 65536 was killed at 24 GB)
    ys: torch.Tensor | None = None
    for t in range(T):
        mem = spec.step(mem, K[..., t, :], V[..., t, :], **hp)
        y = spec.read(mem, Q[..., t, :], **hp)  # (*batch, D_v)
        if ys is None:
            ys = y.new_empty((*y.shape[:-1], T, y.shape[-1]))  # (*batch, T, D_v)
        ys[..., t, :] = y
    if ys is None:
        return V.to(dtype).clone()  # (*batch, 0, D_v)
    return ys  # (*batch, T, D_v)


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


def batch_shape(*shapes: Sequence[int]) -> torch.Size:
    """The broadcast of the given batch shapes: the batch dims of the state a step returns."""
    shape: torch.Size = torch.broadcast_shapes(*shapes)  # type: ignore[no-untyped-call]
    return shape


def stack_states(states: Sequence[State], empty: State, axis: int) -> State:
    """Stack per-step states on a new time ``axis``; with no steps, a size-0 time axis shaped like ``empty``."""
    if not states:
        return {name: x.unsqueeze(axis).narrow(axis, 0, 0) for name, x in empty.items()}
    return {name: torch.stack([s[name] for s in states], dim=axis) for name in empty}
