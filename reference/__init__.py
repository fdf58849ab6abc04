"""memlab's reference memory models: the oracle the graders compare students' code against.

Importing this package registers every model: each public module here (one per memory model) calls
``registry.register`` at import time. Look one up with ``get_model(id)`` or browse ``MODELS``.
"""

import importlib
import pkgutil

from reference.registry import MODELS, HyperParam, ModelSpec, attend_scan, get_model

_NOT_MODELS = {"registry", "kernels"}

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if not _module.startswith("_") and _module not in _NOT_MODELS:
        importlib.import_module(f"reference.{_module}")

__all__ = ["MODELS", "HyperParam", "ModelSpec", "attend_scan", "get_model"]
