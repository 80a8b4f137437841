"""The lowering registry: one rule per TensorFlow op type, and the context rules run in.

A rule has the signature

    rule(ctx: LoweringContext, node: NodeDef, inputs: list[Instruction])
        -> list[Instruction] | Instruction

It receives the HLO instructions computing the node's data inputs (control inputs are
not passed) and returns one instruction per node output, or a single instruction for a
single-output op. Rules are registered with `@lowering("Add", "AddV2")`; a family of ops
that differ only in a table entry (unary elementwise ops, say) registers one closure per
entry.

Besides the rules, this module holds the few helpers most families need: NumPy-style
broadcasting of binary operands, scalar constants broadcast to a shape, axis
normalization, and reading constant-valued inputs (shapes, axes, permutations).
"""

from __future__ import annotations

from typing import Callable, NoReturn, Sequence

import numpy as np

from ...hlo import Builder, Computation, Instruction, scalar_computation
from ...hlo import dtypes as hlo_dtypes
from ...hlo.ir import post_order
from ...hlo.registry import IndexedRegistry
from ...hlo.shape_rules.inference import ShapeError
from ..errors import FrontendError
from ..graph import attr_value
from .families import FAMILIES, FAMILY_OF

Rule = Callable[["LoweringContext", object, list], "list[Instruction] | Instruction"]

#: TF op type -> lowering rule. The family modules of this package register into it; a
#: lookup imports the op's family (families.py, the index), iterating imports them all.
LOWERINGS: IndexedRegistry[Rule] = IndexedRegistry("lowering rule", __package__, FAMILIES,
                                                   FAMILY_OF)

_MISSING = object()

#: The most elements of a tensor computed while lowering (Range, say): 2^28, 1 GiB of
#: int32, far beyond any real graph's but short of exhausting the compiler's memory.
MAX_FOLDED_ELEMENTS = 1 << 28


def lowering(*op_types: str):
    """Register the decorated function as the lowering rule of each of `op_types`."""

    return LOWERINGS.register(*op_types)


def supported_ops() -> list[str]:
    """Every TF op type that has a lowering rule, sorted."""
    return sorted(LOWERINGS)


class LoweringContext:
    """What a rule may use: the builder, attrs, constant inputs and error reporting.

    Attributes:
        b: the Builder of the entry computation. Its `metadata` is set to the node being
            lowered, so every instruction a rule builds records {op_type, op_name}.
        node_outputs: (node name, output index) -> Instruction, for rules that need to
            look at other nodes (rare).
    """

    def __init__(self, builder: Builder):
        self.b = builder
        self.node_outputs: dict[tuple[str, int], Instruction] = {}
        self._static: dict[int, np.ndarray | None] = {}
        self._reducers: dict[tuple[str, str], Computation] = {}

    # -- errors and attrs --------------------------------------------------------------

    def error(self, node, message: str) -> NoReturn:
        """Raise a FrontendError naming the node and its op, e.g.
        "node 'foo' (Reshape): shape input must be a constant"."""
        raise FrontendError(f"node '{node.name}' ({node.op}): {message}")

    def attr(self, node, name: str, default=_MISSING):
        """Attr `name` of `node` as a Python value (see graph.attr_value)."""
        if default is _MISSING:
            return attr_value(node, name)
        return attr_value(node, name, default)

    def dtype(self, node, name: str = "T", default=None) -> hlo_dtypes.DType:
        """The HLO element type of type attr `name` (e.g. "T", "DstT").

        `default` (a NumPy dtype) stands in for an attr with a default value that the
        graph omits (graphs saved with stripped default attrs).
        """
        np_type = self.attr(node, name) if default is None else self.attr(node, name, default)
        return to_hlo_dtype(np_type, lambda msg: self.error(node, f"attr '{name}': {msg}"))

    # -- constant inputs ---------------------------------------------------------------

    def static_value(self, inst: Instruction) -> np.ndarray | None:
        """The value of `inst` if it depends only on constants, else None.

        Shape, axis and permutation inputs are usually Const nodes (or Shape of a static
        shape, which lowers to a constant too); anything computed from constants alone is
        evaluated with the HLO evaluator.
        """
        key = id(inst)
        if key not in self._static:
            self._static[key] = self._evaluate_constant(inst)
        return self._static[key]

    def _evaluate_constant(self, inst: Instruction) -> np.ndarray | None:
        if inst.opcode == "constant":
            return inst.attrs["literal"]
        if inst.opcode == "parameter":
            return None
        order = post_order([inst])
        if any(i.opcode == "parameter" for i in order):
            return None
        from ...hlo.evaluation import evaluate_computation  # lazy: few constants need it

        # The sub-DAG shares instructions with the entry computation; the evaluator only
        # reads them, so no copy is needed.
        comp = Computation("static_value")
        comp.instructions = order
        comp.root = inst
        return np.asarray(evaluate_computation(comp, []))

    def static_ints(self, node, inst: Instruction, what: str) -> list[int]:
        """A constant integer scalar or vector input as a list of ints (or an error)."""
        value = self.static_value(inst)
        if value is None:
            self.error(node, f"{what} input must be a constant (it depends on a graph input)")
        if value.dtype.kind not in "iu":
            self.error(node, f"{what} input must be an integer tensor, got {value.dtype}")
        if value.ndim > 1:
            self.error(node, f"{what} input must be a scalar or vector, got shape {value.shape}")
        return [int(v) for v in np.ravel(value)]

    def static_int(self, node, inst: Instruction, what: str) -> int:
        """A constant integer scalar input (a one-element vector too) as an int."""
        values = self.static_ints(node, inst, what)
        if len(values) != 1:
            self.error(node, f"{what} input must be a scalar, got {len(values)} values")
        return values[0]

    def static_scalar(self, node, inst: Instruction, what: str):
        """A constant scalar input (a one-element tensor too) as a Python number."""
        value = self.static_value(inst)
        if value is None:
            self.error(node, f"{what} input must be a constant (it depends on a graph input)")
        if value.size != 1:
            self.error(node, f"{what} input must be a scalar, got shape {list(value.shape)}")
        number = value.reshape(()).item()
        if isinstance(number, float) and not np.isfinite(number):
            self.error(node, f"{what} input must be finite, got {number}")
        return number

    def check_folded_size(self, node, count: int) -> None:
        """Reject a tensor computed at compile time with more than MAX_FOLDED_ELEMENTS."""
        if count > MAX_FOLDED_ELEMENTS:
            self.error(node, f"its output would have {count} elements; aotc computes it at "
                             f"compile time and allows at most {MAX_FOLDED_ELEMENTS}")

    # -- building helpers --------------------------------------------------------------

    def full(self, value, element_type, dims: Sequence[int]) -> Instruction:
        """A constant scalar broadcast to `dims` (XLA elementwise ops need equal shapes)."""
        scalar = self.b.constant(value, element_type)
        if not dims:
            return scalar
        return self.b.broadcast(scalar, dims, ())

    def full_like(self, x: Instruction, value) -> Instruction:
        return self.full(value, x.shape.element_type, x.shape.dims)

    def reducer(self, opcode: str, element_type) -> Computation:
        """The scalar computation applying `opcode`, shared by every reduce that uses it."""
        t = hlo_dtypes.dtype(element_type)
        key = (opcode, t.name)
        if key not in self._reducers:
            self._reducers[key] = scalar_computation(opcode, t, f"{opcode}_{t.name}")
        return self._reducers[key]

    def reduce(self, x: Instruction, opcode: str, init, dimensions: Sequence[int]) -> Instruction:
        """Reduce `x` over `dimensions` with the scalar `opcode`, starting from `init`."""
        t = x.shape.element_type
        return self.b.reduce(x, self.b.constant(init, t), dimensions, self.reducer(opcode, t))

    def broadcast_pair(self, node, x: Instruction,
                       y: Instruction) -> tuple[Instruction, Instruction]:
        """Broadcast both operands NumPy-style to their common shape (TF's BCast rules)."""
        if x.shape.dims == y.shape.dims:
            return x, y
        try:
            dims = np.broadcast_shapes(x.shape.dims, y.shape.dims)
        except ValueError:
            self.error(node, f"operand shapes {list(x.shape.dims)} and {list(y.shape.dims)} "
                             "are not broadcast-compatible")
        return self.b.broadcast_to(x, dims), self.b.broadcast_to(y, dims)

    def binary(self, node, opcode: str, x: Instruction, y: Instruction) -> Instruction:
        """An elementwise binary HLO op with implicit NumPy-style broadcasting."""
        x, y = self.broadcast_pair(node, x, y)
        return self.b.binary(opcode, x, y)

    def compare(self, node, x: Instruction, y: Instruction, direction: str) -> Instruction:
        x, y = self.broadcast_pair(node, x, y)
        return self.b.compare(x, y, direction)


def to_hlo_dtype(np_type, fail: Callable[[str], None]) -> hlo_dtypes.DType:
    """The HLO element type of a NumPy dtype, calling `fail(message)` if there is none."""
    try:
        return hlo_dtypes.from_numpy(np_type)
    except TypeError:
        fail(f"data type {np.dtype(np_type).name} is not supported by the compiler")


def normalize_axis(ctx: LoweringContext, node, axis: int, rank: int, what: str = "axis") -> int:
    """Map a possibly negative axis into [0, rank), or raise a FrontendError."""
    if not -rank <= axis < rank:
        ctx.error(node, f"{what} {axis} is out of range for a tensor of rank {rank}")
    return axis % rank if rank else axis


def single(inputs: Sequence[Instruction]) -> Instruction:
    """The only input of a one-input op."""
    (x,) = inputs
    return x


def run_rule(ctx: LoweringContext, node, inputs: list):
    """Lower `node` with its rule; the outputs as a list.

    The node already matches its op's signature (frontend/validate.py). A shape the HLO
    builder rejects (a MatMul of [2,4] by [3,2] once the Config fixes unknown dims, say)
    is the user's graph at fault, so it becomes a FrontendError naming the node.
    """
    try:
        outputs = LOWERINGS[node.op](ctx, node, inputs)
    except ShapeError as e:
        ctx.error(node, f"{e}")
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
