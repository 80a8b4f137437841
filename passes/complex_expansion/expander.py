"""The complex expansion's table and driver: every c64/c128 value becomes an f32/f64 array
with a trailing dimension of 2 holding (real, imaginary), the bytes of C's
`float _Complex` and C++'s `std::complex<float>`, so an entry parameter c64[N] is f32[N,2]
in memory and the ABI does not change. Rules rewrite each op on complex values into real
arithmetic; the backends never see a complex type.

`EXPANSIONS` maps an opcode to fn(expander, instruction, new operands) -> the new
instruction (an f32/f64 pair array where the old one was complex). The rules live in the
family modules of this package (`arithmetic`, `structure`, `fft`); importing the package
imports them all. An instruction that neither has nor takes a complex value is copied as
it is.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ...hlo.builder import Builder
from ...hlo.ir import Computation, Instruction, Module
from ...hlo.registry import Registry
from ...hlo.shape import Shape
from ..pass_base import ModulePass


class ComplexExpansionError(ValueError):
    """An op on complex values that has no expansion (names the instruction and, when the
    TF frontend made it, its node)."""


Rule = Callable[["Expander", Instruction, list], Instruction]

#: opcode -> fn(expander, old instruction, new operands) -> new instruction.
EXPANSIONS: Registry[Rule] = Registry("complex expansion rule")


def expansion(*opcodes: str):
    """Register the decorated function as the expansion of `opcodes`."""
    return EXPANSIONS.register(*opcodes)


def has_complex(shape: Shape) -> bool:
    """Whether `shape` (or any element of a tuple shape) is complex."""
    if shape.is_tuple:
        return any(has_complex(s) for s in shape.tuple_shapes)
    return shape.element_type.is_complex


def expanded_shape(shape: Shape) -> Shape:
    """The real shape that holds `shape`'s values: c64[d...] -> f32[d..., 2]."""
    if shape.is_tuple:
        return Shape.tuple([expanded_shape(s) for s in shape.tuple_shapes])
    if not shape.element_type.is_complex:
        return shape
    return Shape(shape.element_type.component, shape.dims + (2,))


def as_pairs(values: np.ndarray) -> np.ndarray:
    """A complex array as its (real, imaginary) pairs along a new trailing dimension."""
    return np.ascontiguousarray(np.stack([values.real, values.imag], axis=-1))


class Expander:
    """Builds the expanded instructions of one computation; the helpers rules share."""

    def __init__(self, builder: Builder):
        self.b = builder
        self._parts: dict[Instruction, tuple[Instruction, Instruction]] = {}

    def op(self, opcode: str, *operands: Instruction, **attrs) -> Instruction:
        """A new instruction with an inferred shape."""
        return self.b.add(opcode, list(operands), attrs)

    def parts(self, pairs: Instruction) -> tuple[Instruction, Instruction]:
        """The real and imaginary parts of an expanded value (each without the pair dim)."""
        if pairs not in self._parts:
            dims = pairs.shape.dims[:-1]
            rank = len(dims)
            halves = []
            for k in (0, 1):
                piece = self.b.slice(pairs, [0] * rank + [k], [*dims, k + 1])
                halves.append(self.b.reshape(piece, dims))
            self._parts[pairs] = (halves[0], halves[1])
        return self._parts[pairs]

    def join(self, re: Instruction, im: Instruction) -> Instruction:
        """The expanded value with parts `re` and `im`."""
        dims = re.shape.dims
        pairs = self.b.concatenate([self.b.reshape(re, (*dims, 1)),
                                    self.b.reshape(im, (*dims, 1))], len(dims))
        self._parts[pairs] = (re, im)
        return pairs

    def full(self, value: float, like: Instruction) -> Instruction:
        """`value` broadcast to `like`'s shape and type."""
        scalar = self.b.constant(np.array(value, like.shape.element_type.np_dtype))
        return self.b.broadcast(scalar, like.shape.dims, [])

    def retype(self, inst: Instruction, operands: list) -> Instruction:
        """`inst` with new operands and its shape expanded (values that only move)."""
        return self.b.add(inst.opcode, operands, inst.attrs, inst.called_computations,
                          shape=expanded_shape(inst.shape))


def unsupported(inst: Instruction, why: str = "") -> ComplexExpansionError:
    node = inst.metadata.get("op_name")
    where = f"{inst.name} ({inst.opcode}" + (f", node '{node}'" if node else "") + ")"
    return ComplexExpansionError(f"{where}: {why or f'{inst.opcode} is not supported on complex values'}")


def _involves_complex(inst: Instruction) -> bool:
    return has_complex(inst.shape) or any(has_complex(o.shape) for o in inst.operands)


def expand_computation(comp: Computation) -> None:
    """Rewrite `comp` in place (the Computation object stays, so its callers' references
    do) with every complex value expanded."""
    b = Builder(comp.name)
    expander = Expander(b)
    mapping: dict[Instruction, Instruction] = {}
    for inst in comp.instructions:
        operands = [mapping[o] for o in inst.operands]
        b.metadata = inst.metadata
        if not _involves_complex(inst):
            new = b.computation.add(inst.clone(operands, name=inst.name))
        else:
            rule = EXPANSIONS.get(inst.opcode)
            if rule is None:
                raise unsupported(inst)
            before = len(b.computation.instructions)
            new = rule(expander, inst, operands)
            if new in b.computation.instructions[before:]:
                new.name = inst.name  # the expansion's result keeps the old name
        mapping[inst] = new
    comp.instructions = b.computation.instructions
    comp.root = mapping[comp.root]


class ComplexExpansion(ModulePass):
    """Rewrites every complex value of the module into (real, imaginary) pairs of its
    component type; a module without complex values is left alone."""

    name = "complex-expansion"

    def run(self, module: Module) -> bool:
        computations = module.computations
        if not any(_involves_complex(i) for c in computations for i in c.instructions):
            return False
        for comp in computations:
            expand_computation(comp)
        return True
