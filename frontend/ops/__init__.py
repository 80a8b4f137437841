"""Lowering rules from TensorFlow ops to HLO, one per op type, grouped by family.

Importing this package registers every rule in `LOWERINGS`.
"""

from . import array, passthrough, math, nn, reduction  # noqa: F401  (registers the rules)
from . import random, variables  # noqa: F401  (registers the rules)
from . import checks, einsum, special  # noqa: F401  (registers the rules)
from . import control_flow, tensor_list  # noqa: F401  (registers the rules)
from . import conv, pooling, scan  # noqa: F401  (registers the rules)
from . import indexing, tensor_array  # noqa: F401  (registers the rules)
from . import bitwise, nan_safe, trig  # noqa: F401  (registers the rules)
from . import batch_space, matrix, reorder, search, shape_ops, value_shaped  # noqa: F401
from . import random_sampling, slice_update, stateless_random  # noqa: F401
from . import eigen, fake_quant, image, linalg, non_max_suppression  # noqa: F401
from . import complex  # noqa: F401  (registers the rules)
from .registry import LOWERINGS, LoweringContext, lowering, supported_ops

__all__ = ["LOWERINGS", "LoweringContext", "lowering", "supported_ops"]
