"""The HLO verifier: checks that a module is well formed, reporting every problem at once.

Each check is a small function in one of three registries (module, computation and
instruction checks) that yields problem descriptions; `verify` runs them all and raises
one `HloVerifierError` listing everything found, each problem naming the computation and
the instruction, so a broken pass shows all of its damage in one run.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from .ir import (CALLED_COMPUTATION_ATTR, CALLED_COMPUTATION_COUNTS, Computation, Instruction,
                 Module)
from .opcodes import VARIADIC, OPCODES
from .shape import Shape
from .shape_rules import ShapeError, infer_shape


class HloVerifierError(ValueError):
    """A module that breaks the IR's invariants; `problems` lists every violation found."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__(
            f"HLO verification failed ({len(self.problems)} problem"
            f"{'s' if len(self.problems) != 1 else ''}):\n"
            + "\n".join(f"  {p}" for p in self.problems)
        )


# Opcodes whose shape is part of their definition, so inference has nothing to check.
_SHAPE_GIVEN = frozenset({"parameter", "constant", "iota"})

# Errors a shape rule may raise on malformed attributes (a missing key, a wrong type).
_INFERENCE_ERRORS = (ShapeError, KeyError, TypeError, ValueError, IndexError, AttributeError)


def expected_shape(inst: Instruction) -> Shape | None:
    """The shape shape inference gives `inst`, or None where the opcode defines its own.

    broadcast and reshape take their result dims, and convert its element type, from the
    instruction's declared shape: XLA keeps these in the shape rather than in attributes.
    Raises ShapeError (or KeyError/TypeError for malformed attributes) when inference fails.
    """
    if inst.opcode in _SHAPE_GIVEN:
        return None
    attrs = dict(inst.attrs)
    if inst.opcode in ("broadcast", "reshape", "bitcast"):
        attrs["result_dims"] = inst.shape.dims
    elif inst.opcode in ("convert", "bitcast-convert"):
        attrs["new_element_type"] = inst.shape.element_type
    return infer_shape(inst.opcode, [o.shape for o in inst.operands], attrs,
                       inst.called_computations)


def find_problems(module: Module) -> list[str]:
    """Every problem in `module`, as human-readable lines (empty when it is well formed)."""
    problems: list[str] = []
    for check in _MODULE_CHECKS:
        problems.extend(check(module))
    if module.entry is None:
        return problems
    for comp in module.computations:
        for check in _COMPUTATION_CHECKS:
            problems.extend(check(comp))
        for inst in comp.instructions:
            for check in _INSTRUCTION_CHECKS:
                problems.extend(_where(comp, inst, msg) for msg in check(inst))
    return problems


def verify(module: Module) -> None:
    """Raise HloVerifierError listing every problem in `module`; return None if it is valid."""
    problems = find_problems(module)
    if problems:
        raise HloVerifierError(problems)


def _where(comp: Computation, inst: Instruction | None, message: str) -> str:
    if inst is None:
        return f"computation {comp.name}: {message}"
    return f"computation {comp.name}, instruction {inst.name} ({inst.opcode}): {message}"


# -- module checks ------------------------------------------------------------------------

def _check_entry(module: Module) -> Iterator[str]:
    if module.entry is None:
        yield f"module {module.name} has no entry computation"


def _check_unique_names(module: Module) -> Iterator[str]:
    if module.entry is None:
        return
    # Instruction names are module-wide in XLA. (Computations are referenced by object
    # here and the printer renames repeated computation names, so those may repeat.)
    comps = module.computations
    owners: dict[str, list[str]] = {}
    for comp in comps:
        for inst in comp.instructions:
            owners.setdefault(inst.name, []).append(comp.name)
    for name, where in owners.items():
        if len(where) > 1:
            yield (f"instruction name {name!r} is used {len(where)} times "
                   f"(in computations {', '.join(where)})")


_MODULE_CHECKS: list[Callable[[Module], Iterator[str]]] = [_check_entry, _check_unique_names]


# -- computation checks -------------------------------------------------------------------

def _check_root(comp: Computation) -> Iterator[str]:
    if comp.root is None:
        yield _where(comp, None, "has no root instruction")
    elif not any(i is comp.root for i in comp.instructions):
        yield _where(comp, None, f"root {comp.root.name} is not an instruction of the computation")


def _check_operand_order(comp: Computation) -> Iterator[str]:
    # The instruction list must be topological: every operand listed before its user.
    position = {}
    for n, inst in enumerate(comp.instructions):
        if id(inst) in position:
            yield _where(comp, inst, "is listed more than once")
        position.setdefault(id(inst), n)
    for n, inst in enumerate(comp.instructions):
        for k, op in enumerate(inst.operands):
            where = position.get(id(op))
            if where is None:
                yield _where(comp, inst, f"operand {k} ({op.name}) is not in the computation")
            elif where >= n:
                yield _where(comp, inst, f"operand {k} ({op.name}) is defined after its use")


def _check_parameters(comp: Computation) -> Iterator[str]:
    numbers: list[int] = []
    for inst in comp.instructions:
        if inst.opcode != "parameter":
            continue
        number = inst.attrs.get("parameter_number")
        if not isinstance(number, (int, np.integer)) or isinstance(number, bool):
            yield _where(comp, inst, f"parameter_number {number!r} is not an integer")
            continue
        if int(number) in numbers:
            yield _where(comp, inst, f"duplicate parameter number {number}")
        numbers.append(int(number))
    expected = set(range(len(numbers)))
    for inst in comp.instructions:
        number = inst.attrs.get("parameter_number")
        if inst.opcode == "parameter" and isinstance(number, (int, np.integer)) \
                and int(number) not in expected:
            yield _where(comp, inst, f"parameter number {number} is outside "
                                     f"0..{len(numbers) - 1} ({len(numbers)} parameters)")


_COMPUTATION_CHECKS: list[Callable[[Computation], Iterator[str]]] = [
    _check_root, _check_operand_order, _check_parameters,
]


# -- instruction checks -------------------------------------------------------------------

#: Least operand count of variadic opcodes that need some operands.
_MIN_OPERANDS = {"concatenate": 1, "reduce": 2, "dynamic-slice": 1,
                 "dynamic-update-slice": 2, "sort": 1, "conditional": 2}


def _arity_ok(inst: Instruction) -> bool:
    return next(_check_arity(inst), None) is None


def _check_arity(inst: Instruction) -> Iterator[str]:
    arity = OPCODES[inst.opcode].arity
    count = len(inst.operands)
    if arity != VARIADIC and count != arity:
        yield f"takes {arity} operands, has {count}"
    elif count < _MIN_OPERANDS.get(inst.opcode, 0):
        yield f"needs at least {_MIN_OPERANDS[inst.opcode]} operands, has {count}"
    elif inst.opcode == "reduce" and count % 2:
        yield f"takes n inputs and n init values, has {count} operands"


def _layout_problems(shape: Shape) -> Iterator[str]:
    if shape.is_tuple:
        for element in shape.tuple_shapes:
            yield from _layout_problems(element)
        return
    if any(d < 0 for d in shape.dims):
        yield f"shape {shape.short()} has a negative dimension"
    layout = shape.layout
    if layout is None or sorted(layout) != list(range(shape.rank)):
        yield f"layout {layout} of {shape.short()} is not a permutation of 0..{shape.rank - 1}"


def _check_layout(inst: Instruction) -> Iterator[str]:
    yield from _layout_problems(inst.shape)


def _check_shape(inst: Instruction) -> Iterator[str]:
    if not _arity_ok(inst) or _count_problem(inst):
        return  # already reported; inference would only fail confusingly
    try:
        expected = expected_shape(inst)
    except _INFERENCE_ERRORS as err:
        yield f"shape inference failed: {err}"
        return
    if expected is not None and not expected.same_array(inst.shape):
        yield f"shape {inst.shape} does not match the inferred {expected}"


def _check_constant(inst: Instruction) -> Iterator[str]:
    if inst.opcode != "constant":
        return
    literal = inst.attrs.get("literal")
    if not isinstance(literal, np.ndarray):
        yield f"literal is {type(literal).__name__}, not a NumPy array"
        return
    if inst.shape.is_tuple:
        yield f"constant has tuple shape {inst.shape}"
        return
    t = inst.shape.element_type
    # bf16 has no NumPy type; its literals are kept as float32.
    want = np.dtype(np.float32) if t.numpy is None else t.np_dtype
    if literal.dtype != want:
        yield f"literal dtype {literal.dtype} does not match element type {t}"
    if tuple(literal.shape) != inst.shape.dims:
        yield f"literal shape {tuple(literal.shape)} does not match {inst.shape.short()}"


def _check_iota(inst: Instruction) -> Iterator[str]:
    if inst.opcode != "iota":
        return
    dim = inst.attrs.get("iota_dimension")
    if inst.shape.is_tuple:
        yield f"iota has tuple shape {inst.shape}"
    elif not isinstance(dim, (int, np.integer)) or not 0 <= dim < inst.shape.rank:
        yield f"iota_dimension {dim!r} is out of range for {inst.shape.short()}"


def _count_problem(inst: Instruction) -> str | None:
    count = CALLED_COMPUTATION_COUNTS.get(inst.opcode)
    want = count(inst) if count else 1 if inst.opcode in CALLED_COMPUTATION_ATTR else 0
    have = len(inst.called_computations)
    if have != want:
        return f"calls {have} computations, expected {want}"
    return None


def _check_called(inst: Instruction) -> Iterator[str]:
    problem = _count_problem(inst)
    if problem:
        yield problem
        return
    if inst.opcode in ("reduce", "reduce-window") and _arity_ok(inst):
        yield from _reducer_problems(inst)
    if inst.opcode == "fusion" and inst.attrs.get("kind") not in FUSION_KINDS:
        yield f"fusion kind {inst.attrs.get('kind')!r} is not one of {', '.join(FUSION_KINDS)}"


#: fusion's `kind` attribute values.
FUSION_KINDS = ("kLoop", "kInput", "kOutput")


def _reducer_problems(inst: Instruction) -> Iterator[str]:
    """A reducer of n inputs takes 2n scalars (accumulators, then elements) and returns n."""
    reducer = inst.called_computations[0]
    n = len(inst.operands) // 2
    types = [init.shape.element_type for init in inst.operands[n:]]
    params = reducer.parameters
    if len(params) != 2 * n:
        yield f"reducer {reducer.name} takes {len(params)} parameters, expected {2 * n}"
        return
    for k, p in enumerate(params):
        want = Shape(types[k % n]) if not any(init.shape.is_tuple for init in inst.operands[n:]) else None
        if want is not None and not p.shape.same_array(want):
            yield f"reducer {reducer.name} parameter {k} is {p.shape}, expected {want}"
    if reducer.root is None or any(init.shape.is_tuple for init in inst.operands[n:]):
        return
    result = reducer.root.shape
    want = Shape(types[0]) if n == 1 else Shape.tuple([Shape(t) for t in types])
    if not result.same_array(want):
        yield f"reducer {reducer.name} returns {result}, expected {want}"


_INSTRUCTION_CHECKS: list[Callable[[Instruction], Iterator[str]]] = [
    _check_arity, _check_layout, _check_shape, _check_constant, _check_iota, _check_called,
]
