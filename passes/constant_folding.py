"""Constant folding (XLA's HloConstantFolding).

An instruction whose operands are all constants is computed at compile time with the
reference evaluator and replaced by a constant. Instructions that depend on a parameter are
never folded: their operands are not all constants, directly or through an unfolded chain.

Folding trades code for data, so size matters. A `broadcast` or `iota` is cheap to leave
symbolic and can be huge once materialized; those are folded only when the result has at
most `max_elements` elements. Any other op is folded when its result is small, or when it
is no larger than its largest constant operand: transposing, reshaping or converting a
weight at compile time is a win because the original constant then dies.
"""

from __future__ import annotations

import numpy as np

from ..hlo.evaluation import evaluate_instruction
from ..hlo.ir import Computation, Instruction
from .pass_base import ComputationPass, rewrite_forward

#: Opcodes never folded: leaves, and tuples (a tuple of constants is not a constant).
NOT_FOLDABLE = frozenset({"parameter", "constant", "tuple"})

#: Opcodes whose result is cheap symbolically but costly materialized: held to the limit.
EXPANDING = frozenset({"broadcast", "iota"})


class ConstantFolding(ComputationPass):
    """Replaces instructions computable from constants alone by their value."""

    name = "constant-folding"

    def __init__(self, max_elements: int = 1024):
        self.max_elements = max_elements

    def run_on_computation(self, computation: Computation) -> bool:
        return rewrite_forward(computation, self._fold)

    def should_fold(self, inst: Instruction) -> bool:
        """Whether `inst` may be replaced by a constant (before trying to evaluate it)."""
        if inst.opcode in NOT_FOLDABLE or inst.shape.is_tuple:
            return False
        if not all(op.opcode == "constant" for op in inst.operands):
            return False
        size = inst.shape.num_elements
        if size <= self.max_elements:
            return True
        if inst.opcode in EXPANDING:
            return False
        largest_operand = max((op.shape.num_elements for op in inst.operands), default=0)
        return size <= largest_operand

    def _fold(self, inst: Instruction) -> Instruction | None:
        if not self.should_fold(inst):
            return None
        try:
            value = evaluate_instruction(inst, [op.attrs["literal"] for op in inst.operands])
        except Exception as error:  # noqa: BLE001 - folding is optional; a gap in the
            # evaluator (an unsupported op or type such as bf16) must not fail the compile.
            import logging  # here: a compile that folds everything never loads logging

            logging.getLogger(__name__).debug("not folding %s: %s", inst.name, error)
            return None
        literal = np.array(value, dtype=inst.shape.element_type.np_dtype, order="C")
        literal = literal.reshape(inst.shape.dims)
        return Instruction("constant", inst.shape, attrs={"literal": literal},
                           name=inst.name, metadata=inst.metadata)
