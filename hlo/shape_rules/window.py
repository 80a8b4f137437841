"""Shape inference for the windowed ops, `convolution` and `reduce-window` (XLA's rules).

Registered into `SHAPE_RULES` on import (the package `aotc.hlo.shape_rules` imports this
module).
"""

from __future__ import annotations

from ..shape import Shape
from ..window import ConvDimensionNumbers, window_problems
from .inference import require, rule


def _check_window(opcode: str, window, rank: int) -> None:
    require(isinstance(window, tuple), f"{opcode} window must be a tuple of WindowDim")
    require(len(window) == rank,
             f"{opcode} window has {len(window)} dimensions, expected {rank}")
    problems = window_problems(window)
    require(not problems, f"{opcode}: {'; '.join(problems)}")


@rule("convolution")
def _convolution(opcode, shapes, attrs, called):
    lhs, rhs = shapes
    dn = attrs["dim_labels"]
    require(isinstance(dn, ConvDimensionNumbers),
             "convolution dim_labels must be ConvDimensionNumbers")
    require(not lhs.is_tuple and not rhs.is_tuple, "convolution operands must be arrays")
    require(lhs.element_type == rhs.element_type,
             f"convolution operand types differ: {lhs.short()} and {rhs.short()}")
    n = dn.num_spatial
    for what, dims in (("input", (dn.input_batch, dn.input_feature, *dn.input_spatial)),
                       ("kernel", (dn.kernel_input_feature, dn.kernel_output_feature,
                                   *dn.kernel_spatial)),
                       ("output", (dn.output_batch, dn.output_feature, *dn.output_spatial))):
        require(sorted(dims) == list(range(n + 2)),
                 f"convolution {what} dimension numbers {dims} are not a permutation")
    require(lhs.rank == rhs.rank == n + 2,
             f"convolution with {n} spatial dimensions needs rank-{n + 2} operands, got "
             f"{lhs.short()} and {rhs.short()}")
    window = attrs["window"]
    _check_window(opcode, window, n)
    groups = attrs.get("feature_group_count", 1)
    batch_groups = attrs.get("batch_group_count", 1)
    require(batch_groups == 1, f"batch_group_count {batch_groups} is not supported (only 1)")
    require(isinstance(groups, int) and groups >= 1,
             f"feature_group_count must be a positive integer, got {groups!r}")
    in_features = lhs.dims[dn.input_feature]
    kernel_in = rhs.dims[dn.kernel_input_feature]
    kernel_out = rhs.dims[dn.kernel_output_feature]
    require(in_features == kernel_in * groups,
             f"convolution input has {in_features} features but the kernel takes {kernel_in} "
             f"per group x {groups} group(s): {lhs.short()} * {rhs.short()}")
    require(kernel_out % groups == 0,
             f"kernel output features ({kernel_out}) are not divisible by "
             f"feature_group_count {groups}")
    dims = [0] * (n + 2)
    dims[dn.output_batch] = lhs.dims[dn.input_batch]
    dims[dn.output_feature] = kernel_out
    for k in range(n):
        kernel_size = rhs.dims[dn.kernel_spatial[k]]
        require(window[k].size == kernel_size,
                 f"window size {window[k].size} of spatial dimension {k} does not match the "
                 f"kernel's {kernel_size}")
        dims[dn.output_spatial[k]] = window[k].output_size(lhs.dims[dn.input_spatial[k]])
    return Shape(lhs.element_type, tuple(dims))


@rule("reduce-window")
def _reduce_window(opcode, shapes, attrs, called):
    operand, init = shapes
    require(not operand.is_tuple, "reduce-window input must be an array")
    require(init.rank == 0 and init.element_type == operand.element_type,
             f"reduce-window init value must be a scalar {operand.element_type}")
    window = attrs["window"]
    _check_window(opcode, window, operand.rank)
    dims = tuple(w.output_size(n) for w, n in zip(window, operand.dims))
    return Shape(operand.element_type, dims)
