"""Folding a zero `pad` of a convolution's input into the convolution's own padding (XLA's
AlgebraicSimplifier::FoldConvInputPad), registered as an algebraic simplifier rule.

Keras models pad explicitly before a strided convolution (MobileNetV2's ZeroPadding2D, TF's
"SAME" padding split into a Pad op). A convolution already reads zeros outside its input
for its window padding, so the padded copy is pure overhead: a buffer larger than the
value it pads, live next to it, which is exactly what sets the temp arena's peak in
MobileNetV2 when the pad is fused with the activation before it.
"""

from __future__ import annotations

from dataclasses import replace

from ...hlo.ir import Instruction
from .constants import is_all
from .rewriter import rule


@rule("convolution")
def _fold_input_pad(inst: Instruction):
    pad, kernel = inst.operands
    if pad.opcode != "pad" or not is_all(pad.operands[1], 0):
        return None
    numbers = inst.attrs["dim_labels"]
    window = tuple(inst.attrs["window"])
    padding = [tuple(p) for p in pad.attrs["padding"]]
    spatial = list(numbers.input_spatial)
    # Only edge padding of spatial dims, no negative padding, and no base dilation (which
    # would put holes between the padded elements differently).
    for d, (low, high, interior) in enumerate(padding):
        if interior != 0 or low < 0 or high < 0:
            return None
        if d not in spatial and (low, high) != (0, 0):
            return None
    if any(w.base_dilation != 1 for w in window):
        return None
    folded = tuple(
        replace(w, padding_low=w.padding_low + padding[d][0],
                padding_high=w.padding_high + padding[d][1])
        for w, d in zip(window, spatial))
    attrs = dict(inst.attrs, window=folded)
    return Instruction("convolution", inst.shape, [pad.operands[0], kernel], attrs,
                       inst.called_computations, metadata=inst.metadata)
