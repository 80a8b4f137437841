"""Reductions on the CPU: the elemental rule for `reduce` (also the hero of kInput fusions,
whose fused operands it computes inline).

A reduce of one input whose reducer is a plain associative op of its two parameters (add,
multiply, maximum, minimum) and whose init is that op's identity, over rows that are
contiguous in memory (the innermost reduced dimension is the input's most minor), folds
each row into up to four vectors of `lanes` accumulators (vector registers): each step
takes `lanes` consecutive elements per vector, gathered into a vector (which LLVM turns
into a vector load, or vectorizes the fused computation producing them); the vectors are
independent dependency chains, so the fold runs at the reducer's throughput rather than
its latency. Whole vectors left after the last step go one to each accumulator, the last
few elements into a scalar; all are combined pairwise at the end, in a fixed order (a row
is never split between tasks, so the result does not depend on the thread count). The
reducer's rule runs on the vectors as it does on scalars. XLA reassociates float
reductions the same way; a sum may differ from a sequential fold by a few ulps. Every
other reduce (variadic, custom reducers, other inits, short or strided rows) folds
sequentially, in the evaluator's order.
"""

from __future__ import annotations

import math

import llvmlite.ir as ir
import numpy as np

from aotc.hlo import Computation, Instruction

from .buffers import iteration_order
from .elemental import ElementalEmitter, elemental, scalar_constant
from .llvm_types import HALF, int_const, register_type

#: reducer opcode -> its identity for an element type
_IDENTITIES = {
    "add": lambda t: 0,
    "multiply": lambda t: 1,
    "maximum": lambda t: -math.inf if t.is_float else np.iinfo(t.np_dtype).min,
    "minimum": lambda t: math.inf if t.is_float else np.iinfo(t.np_dtype).max,
}


def plain_reducer(computation: Computation) -> str | None:
    """The opcode when `computation` is `op(p0, p1)` of its two parameters, op associative."""
    root, params = computation.root, computation.parameters
    if (len(params) == 2 and root.opcode in _IDENTITIES and len(root.operands) == 2
            and set(root.operands) == set(params)):
        return root.opcode
    return None


def _is_identity(init: Instruction, opcode: str) -> bool:
    if init.opcode != "constant" or init.shape.num_elements != 1:
        return False
    value = np.asarray(init.attrs["literal"]).reshape(()).item()
    return value == _IDENTITIES[opcode](init.shape.element_type)


def vector_lanes(target, ty: ir.Type) -> int:
    """Elements of `ty` per vector register of `target` (at least 4)."""
    features = set(target.features.split(","))
    bits = 256 if "+avx" in features else 128
    width = ty.width if isinstance(ty, ir.IntType) else {"float": 32, "double": 64}.get(str(ty), 64)
    return max(4, bits // width)


def accumulator_lanes(target, inst: Instruction) -> int:
    """How many accumulators per output element the reduce `inst` gets on `target` (1: a
    sequential fold; more: the row is contiguous and the reducer plain)."""
    dims = list(inst.attrs["dimensions"])
    if len(inst.operands) != 2:
        return 1
    x, init = inst.operands
    opcode = plain_reducer(inst.to_apply())
    ty = register_type(x.shape.element_type)
    if opcode is None or ty == HALF or x.shape.element_type.is_pred or not _is_identity(init, opcode):
        return 1
    order = [d for d in iteration_order(x.shape) if d in dims]
    if not order or order[-1] != x.shape.layout[0]:
        return 1  # rows not contiguous: lanes would gather
    lanes = vector_lanes(target, ty)
    return lanes if x.shape.dims[order[-1]] >= 2 * lanes else 1


def accumulator_vectors(size: int, lanes: int) -> int:
    """How many vectors of `lanes` accumulators fold a row of `size` elements: up to
    four independent chains (a vector add or NaN-propagating maximum has a latency of
    several cycles, a chain of one runs at that latency), while the row holds two
    vectors per accumulator."""
    count = 1
    while count < 4 and size >= 4 * count * lanes:
        count *= 2
    return count


@elemental("reduce")
def _reduce(e: ElementalEmitter, inst, index):
    """Reduce into register accumulators (one per input, or `lanes` for plain reducers of
    contiguous rows; module docstring) over the reduced dimensions."""
    cg, b = e.cg, e.b
    n = len(inst.operands) // 2
    inputs, inits = inst.operands[:n], inst.operands[n:]
    dims = list(inst.attrs["dimensions"])
    types = [register_type(x.shape.element_type) for x in inputs]
    input_shape = inputs[0].shape
    kept = [d for d in range(input_shape.rank) if d not in dims]
    order = [d for d in iteration_order(input_shape) if d in dims]
    lanes = accumulator_lanes(cg.target, inst)

    def full_index(reduced_index):
        full = [None] * input_shape.rank
        for d, i in zip(kept, index):
            full[d] = i
        for d in dims:
            full[d] = reduced_index[d]
        return full

    if lanes == 1:
        slots = [cg.alloca(ty, name="reduce.acc") for ty in types]
        for slot, init in zip(slots, inits):
            b.store(e.value(init, []), slot)

        def step(reduced_index):
            current = [b.load(slot, typ=ty) for slot, ty in zip(slots, types)]
            elements = [e.value(x, full_index(reduced_index)) for x in inputs]
            for slot, value in zip(slots, e.apply(inst.to_apply(), current + elements)):
                b.store(value, slot)

        cg.loop_nest(list(input_shape.dims), order, step, name="r")
        values = [b.load(slot, typ=ty) for slot, ty in zip(slots, types)]
        return values if n > 1 else values[0]

    (x,), (ty,) = inputs, types
    reducer = inst.to_apply()
    identity = scalar_constant(x.shape.element_type,
                               _IDENTITIES[plain_reducer(reducer)](x.shape.element_type))
    vector = ir.VectorType(ty, lanes)
    row = order[-1]
    size = input_shape.dims[row]
    count = accumulator_vectors(size, lanes)
    accumulators = [cg.alloca(vector, name=f"reduce.lanes{k}") for k in range(count)]
    remainder = cg.alloca(ty, name="reduce.tail")
    for accumulator in accumulators:
        b.store(ir.Constant(vector, [identity.constant] * lanes), accumulator)
    b.store(identity, remainder)
    step = count * lanes
    blocks, vectors_left = size // step, size % step // lanes
    tail_start = blocks * step + vectors_left * lanes

    def element(reduced_index, position):
        at = dict(reduced_index)
        at[row] = position
        return e.value(x, full_index([at.get(d) for d in range(input_shape.rank)]))

    def fold_vector(reduced_index, base, accumulator):
        gathered = ir.Constant(vector, None)
        for j in range(lanes):  # lanes consecutive elements: a vector load, or SLP's
            position = b.add(base, int_const(j), flags=("nuw", "nsw"))
            gathered = b.insert_element(gathered, element(reduced_index, position),
                                        int_const(j))
        (folded,) = e.apply(reducer, [b.load(accumulator, typ=vector), gathered])
        b.store(folded, accumulator)

    def per_row(reduced_index):
        reduced_index = dict(enumerate(reduced_index))
        with cg.for_range(blocks, name="rv") as block:
            base = b.mul(block, int_const(step), flags=("nuw", "nsw"))
            for k, accumulator in enumerate(accumulators):  # independent chains
                fold_vector(reduced_index, b.add(base, int_const(k * lanes), flags=("nuw", "nsw")),
                            accumulator)
        for k in range(vectors_left):  # whole vectors after the blocks, one per accumulator
            fold_vector(reduced_index, int_const(blocks * step + k * lanes), accumulators[k])
        if size % lanes:
            with cg.for_range(size % lanes, name="rt") as tail:
                value = element(reduced_index, b.add(tail, int_const(tail_start)))
                (folded,) = e.apply(reducer, [b.load(remainder, typ=ty), value])
                b.store(folded, remainder)

    extents = list(input_shape.dims)
    extents[row] = 1
    cg.loop_nest(extents, order[:-1], per_row, name="r")
    folded = _pairwise(e, reducer, [b.load(a, typ=vector) for a in accumulators])[0]
    values = [b.extract_element(folded, int_const(j)) for j in range(lanes)]
    values.append(b.load(remainder, typ=ty))
    return _pairwise(e, reducer, values)[0]


def _pairwise(e: ElementalEmitter, reducer: Computation, values: list) -> list:
    """`values` combined pairwise by `reducer` (vectors or scalars), in a fixed order."""
    while len(values) > 1:
        values = [e.apply(reducer, values[k:k + 2])[0] if k + 1 < len(values) else values[k]
                  for k in range(0, len(values), 2)]
    return values
