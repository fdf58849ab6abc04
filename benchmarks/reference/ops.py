"""How many ATen ops a form dispatches per call: on CUDA each is about one kernel launch.

Counted on PyTorch's ``meta`` device (shapes only, no data), so the count costs nothing at any n and is the same
on every machine. At d = 64 and B = H = 1 a GPU moves a whole sequence's inputs in microseconds, which is about
the cost of one launch: a form that dispatches a thousand ops (a loop over chunks) is bound by its launches, not
by the hardware limit the benchmark compares it with.

A fused attention call (``F.scaled_dot_product_attention``) counts as one op, as its CUDA (and CPU) kernel is
one; on meta it would run its unfused math path, whose ops are not counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

# allocations write no data, and _unsafe_view is a reshape's view that its schema does not mark as one
NOT_KERNELS = frozenset(
    {"empty", "empty_strided", "new_empty", "new_empty_strided", "empty_like", "_unsafe_view"}
)
FUSED = frozenset({F.scaled_dot_product_attention})


class CountKernels(TorchDispatchMode):
    """Counts the dispatched ops that compute a tensor: not views (which alias their input), not allocations, not
    queries that return no tensor (``promote_types``). ``counts`` maps each op's name to its calls."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()
        self.inside_fused = 0  # > 0 while a fused call runs: its inner ops are not counted

    def __torch_dispatch__(
        self,
        func: Any,
        types: Sequence[type],
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        out = func(*args, **(kwargs or {}))
        name = func._schema.name.removeprefix("aten::")
        computes = any(isinstance(x, torch.Tensor) for x in tree_leaves(out))
        if computes and not func.is_view and name not in NOT_KERNELS and not self.inside_fused:
            self.counts[name] += 1
        return out


class CountFused(TorchFunctionMode):
    """Counts each fused call once in ``kernels`` and keeps ``kernels`` from counting the ops inside it."""

    def __init__(self, kernels: CountKernels) -> None:
        super().__init__()
        self.kernels = kernels

    def __torch_function__(
        self,
        func: Any,
        types: Sequence[type],
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        if func not in FUSED:
            return func(*args, **(kwargs or {}))
        self.kernels.counts[func.__name__] += 1
        self.kernels.inside_fused += 1
        try:
            return func(*args, **(kwargs or {}))
        finally:
            self.kernels.inside_fused -= 1


def kernel_ops(fn: Callable[..., Any], *shapes: Sequence[int], **kwargs: Any) -> dict[str, Any]:
    """Ops ``fn`` dispatches when called on float32 meta tensors of ``shapes``: the total and the three most
    called."""
    inputs = [torch.empty(*shape, device="meta") for shape in shapes]
    with torch.no_grad(), CountKernels() as mode, CountFused(mode):
        fn(*inputs, **kwargs)
    return {"total": sum(mode.counts.values()), "most": dict(mode.counts.most_common(3))}
