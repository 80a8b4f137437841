"""Lowering rules from TensorFlow ops to HLO, one per op type, grouped by family.

`LOWERINGS` imports a family module the first time one of its ops is looked up
(families.py indexes them), so a compile imports only the families its graph uses.
"""

from .registry import LOWERINGS, LoweringContext, lowering, supported_ops

__all__ = ["LOWERINGS", "LoweringContext", "lowering", "supported_ops"]
