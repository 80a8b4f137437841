"""aotc.hlo: the IR. Dtypes, shapes with layouts, instructions, computations, modules, a
builder with shape inference, the text printer/parser, the verifier and the evaluator.

The rule tables keyed by opcode are `registry.Registry` objects; each role has its own
subpackage whose `__init__` imports every family module once: `shape_rules/` (shape
inference) and `evaluation/` (the NumPy evaluator)."""

from .builder import Builder, scalar_computation
from .dtypes import DTYPES, DType, dtype, from_numpy
from .ir import Computation, Instruction, Module
from .opcodes import OPCODES, OpInfo
from .printer import print_computation, print_instruction, print_module
from .shape import Shape
from .shape_rules import ShapeError, infer_shape
from .verifier import HloVerifierError, find_problems, verify

#: Names whose modules load on first use (PEP 562): the text parser and the graphviz
#: writer serve `*.hlo` inputs and `--dump-hlo`, not a compile from a GraphDef.
_LAZY = {"HloParseError": ".parser", "parse_module": ".parser", "to_graphviz": ".graphviz"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Builder", "scalar_computation", "DTYPES", "DType", "dtype", "from_numpy", "Computation",
    "Instruction", "Module", "OPCODES", "OpInfo", "Shape", "ShapeError", "infer_shape",
    "HloParseError", "parse_module", "print_computation", "print_instruction", "print_module",
    "to_graphviz", "HloVerifierError", "find_problems", "verify",
]
