"""The evaluator's table and driver: `EVALUATORS` (opcode -> rule), `evaluate`,
`evaluate_computation`, `evaluate_instruction` and `run_computation`.

The rules live in the family modules of this package (core, elementwise, window, indexing,
control_flow), which register into `EVALUATORS`; `aotc.hlo.evaluation` imports them all,
so import the evaluator from there. A rule is fn(inst, operand_values) -> value; a value is
a NumPy array whose dtype and shape are exactly the instruction's, or a Python tuple of
values for a tuple shape. `run_computation` checks that after each instruction, so a wrong
rule fails loudly where it happens instead of as a mismatch far downstream.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..ir import Computation, Instruction, Module
from ..registry import Registry
from ..shape import Shape


class EvaluationError(RuntimeError):
    """A rule produced a value that does not match its instruction's shape (an evaluator bug)
    or was asked to evaluate something it cannot (e.g. a bf16 value)."""


Rule = Callable[[Instruction, list], Any]

#: opcode -> fn(instruction, operand values) -> value. One entry per opcode of opcodes.py.
EVALUATORS: Registry[Rule] = Registry("evaluator rule")


def rule(*opcodes: str):
    """Register the decorated function as the evaluator of `opcodes`."""
    return EVALUATORS.register(*opcodes)



# ---------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------


def evaluate(module: Module, *args):
    """Run `module`'s entry computation on `args` (one per parameter, in parameter order).

    NumPy arrays must match the parameter's dtype and dims exactly; plain Python scalars and
    lists are converted when the conversion cannot lose the kind (int -> s32 is fine, a float
    for an s32 parameter is not). Tuple-shaped parameters take tuples. Raises ValueError with
    the parameter's name on a mismatch. Returns an array, or a tuple for a tuple root.
    """
    params = module.entry.parameters
    if len(args) != len(params):
        raise ValueError(
            f"{module.name} takes {len(params)} arguments "
            f"({', '.join(p.name for p in params)}), got {len(args)}"
        )
    values = [_coerce_argument(p, p.shape, a) for p, a in zip(params, args)]
    return evaluate_computation(module.entry, values)


def evaluate_computation(comp: Computation, args: list):
    """Evaluate `comp` with `args` bound to its parameters (by parameter number).

    Only instructions the root depends on are evaluated. Each result is checked against its
    instruction's shape (EvaluationError on a mismatch).
    """
    return run_computation(comp, list(args), check_dims=True)


def evaluate_instruction(inst: Instruction, operand_values: list):
    """Evaluate one instruction on given operand values (constant folding uses this).

    `parameter` cannot be evaluated this way: its value comes from a computation's arguments.
    """
    with np.errstate(all="ignore"):
        value = _normalize(_rule_for(inst)(inst, list(operand_values)))
    _check(inst, inst.shape, value, check_dims=True)
    return value


# ---------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------


def _rule_for(inst: Instruction) -> Rule:
    try:
        return EVALUATORS[inst.opcode]
    except KeyError:
        raise EvaluationError(f"no evaluator for opcode {inst.opcode}") from None


def run_computation(comp: Computation, args: list, check_dims: bool):
    """Evaluate `comp`. With check_dims=False only element types are checked: the reduce rule
    uses that to run a scalar reducer on whole arrays at once (see `reducers.batchable`)."""
    params = comp.parameters
    if len(args) != len(params):
        raise ValueError(f"computation {comp.name} takes {len(params)} arguments, got {len(args)}")
    env: dict[int, Any] = {}
    for p, a in zip(params, args):
        _check(p, p.shape, a, check_dims)
        env[id(p)] = a
    with np.errstate(all="ignore"):
        for inst in comp.post_order():
            if id(inst) in env:
                continue
            value = _normalize(_rule_for(inst)(inst, [env[id(o)] for o in inst.operands]))
            _check(inst, inst.shape, value, check_dims)
            env[id(inst)] = value
    return env[id(comp.root)]


def _normalize(value):
    """NumPy scalars (what ufuncs return for 0-d inputs) become 0-d C-contiguous arrays."""
    if isinstance(value, tuple):
        return tuple(_normalize(v) for v in value)
    value = np.asarray(value)
    if not value.flags.c_contiguous:
        value = np.array(value, order="C")
    return value


def _check(inst: Instruction, shape: Shape, value, check_dims: bool) -> None:
    if shape.is_tuple:
        if not isinstance(value, tuple) or len(value) != len(shape.tuple_shapes):
            raise EvaluationError(f"{inst.name}: expected a {len(shape.tuple_shapes)}-tuple "
                                  f"for {shape.short()}, got {type(value).__name__}")
        for s, v in zip(shape.tuple_shapes, value):
            _check(inst, s, v, check_dims)
        return
    expected = _np_dtype(shape)
    if not isinstance(value, np.ndarray) or value.dtype != expected or (
        check_dims and value.shape != shape.dims
    ):
        got = (f"{value.dtype}{list(value.shape)}" if isinstance(value, np.ndarray)
               else type(value).__name__)
        raise EvaluationError(f"{inst.name} ({inst.opcode}): expected {shape.short()}, got {got}")


def _np_dtype(shape: Shape) -> np.dtype:
    try:
        return shape.element_type.np_dtype
    except TypeError as e:
        raise EvaluationError(str(e)) from None


def _coerce_argument(param: Instruction, shape: Shape, arg):
    """Check (and for Python values, convert) one argument of `evaluate`."""
    if shape.is_tuple:
        if not isinstance(arg, (tuple, list)) or len(arg) != len(shape.tuple_shapes):
            raise ValueError(f"parameter {param.name} expects a {len(shape.tuple_shapes)}-tuple "
                             f"{shape.short()}")
        return tuple(_coerce_argument(param, s, a) for s, a in zip(shape.tuple_shapes, arg))
    dtype = _np_dtype(shape)
    if isinstance(arg, (np.ndarray, np.generic)):
        array = np.asarray(arg)
        if array.dtype != dtype:
            raise ValueError(f"parameter {param.name} expects {shape.short()}, "
                             f"got a {array.dtype} array of shape {list(array.shape)}")
    else:
        array = np.asarray(arg)
        if not np.can_cast(array.dtype, dtype, casting="same_kind"):
            raise ValueError(f"parameter {param.name} expects {shape.short()}, "
                             f"got {type(arg).__name__} of kind {array.dtype}")
        array = array.astype(dtype)
    if array.shape != shape.dims:
        raise ValueError(f"parameter {param.name} expects {shape.short()}, "
                         f"got shape {list(array.shape)}")
    return _normalize(array)
