"""memlab's reference memory models: the oracle the graders compare students' code against.

Importing this package registers every model; look one up with ``get_model(id)`` or browse ``MODELS``.
"""

from reference import cumulative_average, fast_weight  # noqa: F401  (imported to register the models)
from reference.registry import MODELS, HyperParam, ModelSpec, get_model

__all__ = ["MODELS", "HyperParam", "ModelSpec", "get_model"]
