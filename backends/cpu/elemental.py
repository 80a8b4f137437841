"""Elemental IR emission (XLA's design): the value of an instruction at a given index.

`ElementalEmitter.generate(inst, index)` emits the IR computing one element of `inst`,
asking for operand elements through `value(operand, index')`. An operand either has a
*source* (a buffer already in memory, or a bound parameter of a called computation) or is
generated recursively. So a fused computation becomes one loop nest, and broadcast,
reshape, transpose, slice, pad, concatenate, iota and convert cost only index arithmetic.

Indices are lists of i64 values, one per dimension (empty for scalars). Tuple-shaped
instructions (variadic reduce, tuple) generate a list of values, one per element.
"""

from __future__ import annotations

import itertools
from typing import Callable

import llvmlite.ir as ir
import numpy as np

from aotc.hlo import Computation, Instruction, Shape
from aotc.hlo.registry import Registry

from .buffers import BufferView, ConstantPool
from .codegen import CodeGen
from .half import float_to_half, half_to_float
from .llvm_types import F32, HALF, int_const, register_type
from .scalar_ops import emit_compare, emit_convert, emit_elementwise

Index = list
Source = Callable[[Index], object]
Rule = Callable[["ElementalEmitter", Instruction, Index], object]
#: opcode (or "<category>") -> fn(emitter, instruction, index) -> the element's value. The
#: family modules (convolution, indexing) register into it; the package imports them.
ELEMENTAL_RULES: Registry[Rule] = Registry("CPU elemental rule")
_ids = itertools.count()


def elemental(*opcodes: str):
    """Register the decorated function as the element generator of `opcodes`."""
    return ELEMENTAL_RULES.register(*opcodes)


class ElementalEmitter:
    """Generates elements of instructions; `sources(inst)` gives a reader or None."""

    def __init__(self, cg: CodeGen, constants: ConstantPool,
                 sources: Callable[[Instruction], Source | None]):
        self.cg = cg
        self.b = cg.builder
        self.constants = constants
        self.sources = sources
        self._id = next(_ids)
        self._keep_alive: list = []  # cache keys hold ids; keep their objects alive
        # inst -> tap(index, value), called where an element of inst is generated (a
        # multi-output fusion stores its siblings so: backends/cpu/fusion_emitter.py).
        self.taps: dict[Instruction, Callable[[Index, object], None]] = {}

    def value(self, inst: Instruction, index: Index):
        """The element of `inst` at `index`, read from its source or generated (memoized)."""
        source = self.sources(inst)
        if source is not None:
            return source(index)
        key = self._key(inst, index)
        self._keep_alive.append(index)
        if _same_index(inst) and not self.cg.has(key):
            self._generate_operands_first(inst, index)
        return self.cg.cached(key, lambda: self._generate_tapped(inst, index))

    def _generate_tapped(self, inst: Instruction, index: Index):
        value = self.generate(inst, index)
        tap = self.taps.get(inst)
        if tap is not None:
            tap(index, value)
        return value

    def _key(self, inst: Instruction, index: Index):
        return (self._id, id(inst), tuple(id(v) for v in index))

    def _generate_operands_first(self, inst: Instruction, index: Index) -> None:
        """Generate the same-index elementwise operands of `inst` (transitively) deepest
        first, with an explicit stack, so that generating `inst` finds them cached: a
        fused chain of thousands of elementwise ops needs no deep Python recursion."""
        order, seen = [], {id(inst)}
        stack = [(inst, False)]
        while stack:
            node, ready = stack.pop()
            if ready:
                order.append(node)
                continue
            stack.append((node, True))
            for op in reversed(node.operands):  # first operand generated first, as before
                if (id(op) not in seen and _same_index(op) and self.sources(op) is None
                        and not self.cg.has(self._key(op, index))):
                    seen.add(id(op))
                    stack.append((op, False))
        for node in order[:-1]:  # the last is `inst`, which the caller generates
            self.cg.cached(self._key(node, index), lambda n=node: self._generate_tapped(n, index))

    def generate(self, inst: Instruction, index: Index):
        """Emit the computation of `inst`'s element at `index` from its operands."""
        rule = (ELEMENTAL_RULES.get(inst.opcode)
                or ELEMENTAL_RULES.get(f"<{inst.info.category}>"))
        if rule is None:
            raise NotImplementedError(f"CPU backend: cannot emit {inst.opcode} ({inst.name})")
        return rule(self, inst, index)

    def operand(self, inst: Instruction, k: int, index: Index):
        return self.value(inst.operands[k], index)

    def apply(self, computation: Computation, args: list) -> list:
        """Inline a scalar computation (a reducer) on register values; returns its outputs."""
        params = {p: v for p, v in zip(computation.parameters, args)}
        child = ElementalEmitter(self.cg, self.constants,
                                 lambda inst: (lambda index, v=params[inst]: v) if inst in params else None)
        result = child.value(computation.root, [])
        return result if isinstance(result, list) else [result]


#: Opcodes whose element at an index is computed from their operands' elements at the
#: same index (no index arithmetic): the links of long elementwise chains.
_SAME_INDEX_OPCODES = frozenset({"compare", "convert", "select", "clamp"})
_SAME_INDEX_CATEGORIES = frozenset({"unary", "binary", "predicate"})


def _same_index(inst: Instruction) -> bool:
    return (inst.opcode in _SAME_INDEX_OPCODES
            or inst.info.category in _SAME_INDEX_CATEGORIES) and not inst.shape.is_tuple


def _const(value: int) -> ir.Constant:
    return int_const(value)


# -- elementwise ----------------------------------------------------------------------------


@elemental("<unary>", "<binary>", "<predicate>")
def _elementwise(e: ElementalEmitter, inst, index):
    values = [e.value(op, index) for op in inst.operands]
    return emit_elementwise(e.cg, inst.opcode, inst.operands[0].shape.element_type, values)


@elemental("compare")
def _compare(e: ElementalEmitter, inst, index):
    x, y = (e.value(op, index) for op in inst.operands)
    return emit_compare(e.cg, inst.operands[0].shape.element_type, inst.attrs["direction"], x, y)


@elemental("convert")
def _convert(e: ElementalEmitter, inst, index):
    x = e.operand(inst, 0, index)
    return emit_convert(e.cg, inst.operands[0].shape.element_type, inst.shape.element_type, x)


@elemental("bitcast-convert")
def _bitcast_convert(e: ElementalEmitter, inst, index):
    # Equal widths: one LLVM bitcast. Otherwise through integers of the wide width: a
    # narrow element k of a wide one is bits [k * narrow, (k + 1) * narrow) (memory order
    # on a little-endian target).
    b = e.b
    source, target = inst.operands[0].shape.element_type, inst.shape.element_type
    if source.bits == target.bits:
        return b.bitcast(e.operand(inst, 0, index), register_type(target))
    narrow = ir.IntType(min(source.bits, target.bits))
    wide = ir.IntType(max(source.bits, target.bits))
    if source.bits > target.bits:
        bits = b.bitcast(e.operand(inst, 0, index[:-1]), wide)
        shift = b.mul(index[-1], _const(target.bits))
        part = b.trunc(b.lshr(bits, _resize(b, shift, wide)), narrow)
        return b.bitcast(part, register_type(target))
    joined = ir.Constant(wide, 0)
    for k in range(target.bits // source.bits):
        part = b.bitcast(e.operand(inst, 0, [*index, _const(k)]), narrow)
        joined = b.or_(joined, b.shl(b.zext(part, wide), ir.Constant(wide, k * source.bits)))
    return b.bitcast(joined, register_type(target))


def _resize(b, value, ty):
    """An i64 index value as an integer of type `ty` (truncated or zero-extended)."""
    if ty.width == value.type.width:
        return value
    return b.trunc(value, ty) if ty.width < value.type.width else b.zext(value, ty)


@elemental("select")
def _select(e: ElementalEmitter, inst, index):
    pred, on_true, on_false = (e.value(op, index) for op in inst.operands)
    return e.b.select(pred, on_true, on_false)


@elemental("clamp")
def _clamp(e: ElementalEmitter, inst, index):
    low, x, high = (e.value(op, index) for op in inst.operands)
    t = inst.shape.element_type
    raised = emit_elementwise(e.cg, "maximum", t, [x, low])
    return emit_elementwise(e.cg, "minimum", t, [raised, high])


# -- leaves ---------------------------------------------------------------------------------


@elemental("constant")
def _constant(e: ElementalEmitter, inst, index):
    literal = inst.attrs["literal"]
    t = inst.shape.element_type
    if inst.shape.rank == 0 or inst.shape.num_elements == 1:
        return scalar_constant(t, np.asarray(literal).reshape(()).item())
    return BufferView(e.cg, e.constants.pointer(inst), inst.shape).load(index)


def scalar_constant(t, value) -> ir.Constant:
    """An immediate of element type `t` (integers in two's complement)."""
    ty = register_type(t)
    if t.is_float:
        return ir.Constant(ty, float(value))
    value = int(value)
    bits = ty.width
    value &= (1 << bits) - 1
    if bits > 1 and value >= 1 << (bits - 1):
        value -= 1 << bits  # LLVM's parser wants the signed spelling
    return ir.Constant(ty, value)


@elemental("iota")
def _iota(e: ElementalEmitter, inst, index):
    position = index[inst.attrs["iota_dimension"]]
    return emit_convert(e.cg, _S64, inst.shape.element_type, position)


@elemental("parameter")
def _parameter(e: ElementalEmitter, inst, index):
    raise NotImplementedError(f"parameter {inst.name} has no bound source")


# -- data movement --------------------------------------------------------------------------


@elemental("broadcast")
def _broadcast(e: ElementalEmitter, inst, index):
    return e.operand(inst, 0, [index[d] for d in inst.attrs["dimensions"]])


@elemental("transpose")
def _transpose(e: ElementalEmitter, inst, index):
    permutation = inst.attrs["dimensions"]
    operand_index = [None] * len(permutation)
    for out_dim, in_dim in enumerate(permutation):
        operand_index[in_dim] = index[out_dim]
    return e.operand(inst, 0, operand_index)


@elemental("reshape")
def _reshape(e: ElementalEmitter, inst, index):
    # Dimension groups of equal element counts map separately (XLA's common factors): a
    # dimension kept as it is passes its index through, a split one is divided, merged
    # ones are linearized; no group pays for the others' divisions.
    b = e.b
    source_dims, dims = inst.operands[0].shape.dims, inst.shape.dims
    operand_index = []
    bounds = common_factors(source_dims, dims)
    for (i0, j0), (i1, j1) in zip(bounds, bounds[1:]):
        linear = _const(0)
        for d in range(j0, j1):
            linear = b.add(b.mul(linear, _const(dims[d])), index[d])
        group = []
        for d in reversed(range(i0, i1)):
            extent = source_dims[d]
            if d == i0:  # the outermost dimension needs no modulo
                group.append(linear)
            else:
                group.append(b.urem(linear, _const(extent)) if extent != 1 else _const(0))
                linear = b.udiv(linear, _const(extent)) if extent != 1 else linear
        operand_index.extend(reversed(group))
    return e.operand(inst, 0, operand_index)


def common_factors(a, b) -> list[tuple[int, int]]:
    """Boundaries (i, j), from (0, 0) to (len(a), len(b)), where the element counts of
    a[:i] and b[:j] are equal: between two boundaries a reshape from dims `a` to `b`
    rearranges only that group. One group when a dimension is 0."""
    if 0 in a or 0 in b:
        return [(0, 0), (len(a), len(b))]
    bounds = [(0, 0)]
    i = j = 0
    count_a = count_b = 1
    while i < len(a) or j < len(b):
        if j == len(b) or (i < len(a) and count_a <= count_b):
            count_a *= a[i]
            i += 1
        else:
            count_b *= b[j]
            j += 1
        if count_a == count_b and (i, j) != bounds[-1]:
            bounds.append((i, j))
    if bounds[-1] != (len(a), len(b)):
        bounds.append((len(a), len(b)))
    return bounds


@elemental("reverse")
def _reverse(e: ElementalEmitter, inst, index):
    flipped = list(index)
    for d in inst.attrs["dimensions"]:
        flipped[d] = e.b.sub(_const(inst.shape.dims[d] - 1), index[d])
    return e.operand(inst, 0, flipped)


@elemental("slice")
def _slice(e: ElementalEmitter, inst, index):
    b = e.b
    operand_index = []
    for i, (start, _, stride) in zip(index, inst.attrs["slice"]):
        scaled = b.mul(i, _const(stride)) if stride != 1 else i
        operand_index.append(b.add(scaled, _const(start)) if start else scaled)
    return e.operand(inst, 0, operand_index)


@elemental("pad")
def _pad(e: ElementalEmitter, inst, index):
    b = e.b
    operand, pad_value = inst.operands
    padding_value = e.value(pad_value, [])
    if operand.shape.num_elements == 0:
        return padding_value
    inside = e.cg.bool_const(True)
    operand_index = []
    for i, (low, _, interior), extent in zip(index, inst.attrs["padding"], operand.shape.dims):
        step = interior + 1
        shifted = b.sub(i, _const(low))
        nonnegative = b.icmp_signed(">=", shifted, _const(0))
        clamped = b.select(nonnegative, shifted, _const(0))
        position = b.udiv(clamped, _const(step)) if step != 1 else clamped
        ok = b.and_(nonnegative, b.icmp_signed("<", position, _const(extent)))
        if step != 1:
            ok = b.and_(ok, b.icmp_unsigned("==", b.urem(clamped, _const(step)), _const(0)))
        inside = b.and_(inside, ok)
        # Out-of-range positions read element 0 (always valid) and are then discarded,
        # which keeps the loop branch-free.
        operand_index.append(b.select(ok, position, _const(0)))
    return b.select(inside, e.value(operand, operand_index), padding_value)


@elemental("concatenate")
def _concatenate(e: ElementalEmitter, inst, index):
    b = e.b
    (axis,) = inst.attrs["dimensions"]
    cases = []
    offset = 0
    for operand in inst.operands:
        extent = operand.shape.dims[axis]
        if extent == 0:
            continue
        local = b.sub(index[axis], _const(offset)) if offset else index[axis]
        below = b.icmp_signed("<", index[axis], _const(offset + extent))
        clamped = b.select(b.icmp_signed("<", local, _const(0)), _const(0), local)
        clamped = b.select(below, clamped, _const(extent - 1))
        operand_index = list(index)
        operand_index[axis] = clamped
        cases.append((below, e.value(operand, operand_index)))
        offset += extent
    default = cases[-1][1]
    return e.cg.select_chain(cases[:-1], default)


# -- contractions ---------------------------------------------------------------------------


def dot_dimensions(inst: Instruction):
    """(lhs batch, rhs batch, lhs contracting, rhs contracting, lhs free, rhs free)."""
    lhs, rhs = inst.operands
    lb, rb = list(inst.attrs.get("lhs_batch_dims", ())), list(inst.attrs.get("rhs_batch_dims", ()))
    lc = list(inst.attrs.get("lhs_contracting_dims", ()))
    rc = list(inst.attrs.get("rhs_contracting_dims", ()))
    lf = [d for d in range(lhs.shape.rank) if d not in lb + lc]
    rf = [d for d in range(rhs.shape.rank) if d not in rb + rc]
    return lb, rb, lc, rc, lf, rf


def dot_operand_indices(inst: Instruction, out_index: Index, contracting: Index):
    """The lhs and rhs indices of output element `out_index` at contraction step."""
    lb, rb, lc, rc, lf, rf = dot_dimensions(inst)
    lhs_index = [None] * inst.operands[0].shape.rank
    rhs_index = [None] * inst.operands[1].shape.rank
    position = 0
    for l_dim, r_dim in zip(lb, rb):
        lhs_index[l_dim] = rhs_index[r_dim] = out_index[position]
        position += 1
    for d in lf:
        lhs_index[d] = out_index[position]
        position += 1
    for d in rf:
        rhs_index[d] = out_index[position]
        position += 1
    for k, (l_dim, r_dim) in enumerate(zip(lc, rc)):
        lhs_index[l_dim] = rhs_index[r_dim] = contracting[k]
    return lhs_index, rhs_index


def accumulator_type(t) -> ir.Type:
    """Sums of f16 accumulate in f32 and round once (like XLA and the evaluator)."""
    ty = register_type(t)
    return F32 if ty == HALF else ty


@elemental("dot")
def _dot(e: ElementalEmitter, inst, index):
    cg, b = e.cg, e.b
    t = inst.shape.element_type
    acc_type = accumulator_type(t)
    accumulator = cg.alloca(acc_type, name="dot.acc")
    b.store(ir.Constant(acc_type, 0.0 if t.is_float else 0), accumulator)
    lb, rb, lc, rc, lf, rf = dot_dimensions(inst)
    extents = [inst.operands[0].shape.dims[d] for d in lc]

    def step(contracting):
        lhs_index, rhs_index = dot_operand_indices(inst, index, contracting)
        x = _widen(cg, e.operand(inst, 0, lhs_index), acc_type)
        y = _widen(cg, e.operand(inst, 1, rhs_index), acc_type)
        total = b.load(accumulator, typ=acc_type)
        if t.is_float:
            b.store(b.fadd(total, b.fmul(x, y)), accumulator)
        elif t.is_pred:
            b.store(b.or_(total, b.and_(x, y)), accumulator)
        else:
            b.store(b.add(total, b.mul(x, y)), accumulator)

    cg.loop_nest(extents, list(range(len(extents))), step, name="k")
    result = b.load(accumulator, typ=acc_type)
    return float_to_half(cg, result) if register_type(t) == HALF else result


def _widen(cg, value, ty):
    return half_to_float(cg, value) if value.type == HALF else value


# -- tuples and calls -----------------------------------------------------------------------


@elemental("tuple")
def _tuple(e: ElementalEmitter, inst, index):
    return [e.value(op, index) for op in inst.operands]


@elemental("get-tuple-element")
def _get_tuple_element(e: ElementalEmitter, inst, index):
    return e.operand(inst, 0, index)[inst.attrs["index"]]


def callee_emitter(e: ElementalEmitter, inst: Instruction) -> tuple[ElementalEmitter, Computation]:
    """An emitter for `inst`'s called computation with its parameters bound to operands."""
    computation = inst.called_computations[0]
    bound = {p: op for p, op in zip(computation.parameters, inst.operands)}

    def sources(inner):
        if inner in bound:
            return lambda index, op=bound[inner]: e.value(op, index)
        return None

    return ElementalEmitter(e.cg, e.constants, sources), computation


@elemental("call", "fusion")
def _call(e: ElementalEmitter, inst, index):
    child, computation = callee_emitter(e, inst)
    return child.value(computation.root, index)


_S64 = Shape.array("s64").element_type
