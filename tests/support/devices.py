"""A dispatch mode that fails any op mixing devices the way CUDA would refuse, for device tests without a GPU."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

# ops that move data between devices, or accept host indices for a device tensor, as CUDA does
CROSS_DEVICE_OPS = frozenset(
    {
        torch.ops.aten.copy_.default,
        torch.ops.aten._to_copy.default,
        torch.ops.aten.index.Tensor,
        torch.ops.aten.index_put_.default,
    }
)


class SameDevice(TorchDispatchMode):
    """Every op's tensors with at least one dimension must share one device (a 0-d CPU tensor is a scalar, which
    CUDA accepts too). Meta tensors alone let some ops through with a CPU operand (``mul_``, ``mm``,
    ``masked_fill_``): under this mode those raise as well."""

    def __torch_dispatch__(
        self,
        func: Callable[..., Any],
        types: Sequence[type],
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        if func not in CROSS_DEVICE_OPS:
            devices = {
                x.device for x in tree_leaves((args, kwargs)) if isinstance(x, torch.Tensor) and x.dim() > 0
            }
            if len(devices) > 1:
                raise AssertionError(f"{func} mixes devices: {sorted(map(str, devices))}")
        return func(*args, **kwargs)
