"""The opcode table: every HLO operation the IR knows, with its arity and category.

Names and semantics are XLA's (see the XLA "Operation Semantics" page). The category is
what generic code dispatches on: an elementwise op of any category is computed per element
from the same index of each operand, so the backends and fusion treat them uniformly.
"""

from __future__ import annotations

from dataclasses import dataclass

VARIADIC = -1


@dataclass(frozen=True)
class OpInfo:
    """What is known about an opcode without looking at an instruction."""

    name: str
    arity: int  # number of operands, or VARIADIC
    category: str  # see CATEGORIES

    @property
    def is_elementwise(self) -> bool:
        return self.category in ELEMENTWISE_CATEGORIES


#: Categories: "unary"/"binary"/"ternary" are elementwise ops on same-shaped operands;
#: "compare" and "convert" are elementwise too but change the element type; "complex" ops
#: build and split complex values; everything else is "structural" (moves data or has its
#: own semantics).
ELEMENTWISE_CATEGORIES = frozenset({"unary", "binary", "ternary", "compare", "convert", "predicate"})

_UNARY = [
    "abs", "negate", "exponential", "exponential-minus-one", "log", "log-plus-one", "tanh",
    "logistic", "sqrt", "rsqrt", "cbrt", "floor", "ceil", "round-nearest-afz",
    "round-nearest-even", "sign", "sine", "cosine", "tan", "erf", "not", "copy",
    # Not XLA's (its client library composes erfc from other ops): one op, so that a backend
    # evaluates it in one piece, as the exact GELU's 0.5 x erfc(-x / sqrt 2) needs.
    "erfc",
]
_BINARY = [
    "add", "subtract", "multiply", "divide", "maximum", "minimum", "power", "remainder",
    "atan2", "and", "or", "xor", "shift-left", "shift-right-arithmetic",
    "shift-right-logical",
]
_STRUCTURAL = {
    "parameter": 0,
    "constant": 0,
    "iota": 0,
    "broadcast": 1,
    "reshape": 1,
    "transpose": 1,
    "slice": 1,
    "reverse": 1,
    "pad": 2,
    "concatenate": VARIADIC,
    "dot": 2,
    "reduce": VARIADIC,  # n inputs then n init values
    "convolution": 2,  # input (lhs), kernel (rhs)
    "reduce-window": 2,  # input, init value
    "gather": 2,  # operand, start indices
    "scatter": 3,  # operand, scatter indices, updates (XLA's single-operand form)
    "dynamic-slice": VARIADIC,  # operand, then one scalar start index per dimension
    "dynamic-update-slice": VARIADIC,  # operand, update, then one scalar start per dimension
    "sort": VARIADIC,  # the operands sorted together (keys and payloads)
    "tuple": VARIADIC,
    "get-tuple-element": 1,
    # Reinterprets the operand's bytes under the result shape's dims and layout (same element
    # type and count); created after layout assignment for copy-free reshapes/transposes.
    "bitcast": 1,
    # Reinterprets each element's bits as another element type (XLA's BitcastConvertType).
    # Equal widths keep the dims; a wider operand gains a minor dimension of
    # (wide bits / narrow bits) elements, a narrower one loses that minor dimension.
    # Elements split and join in memory order (little-endian, every target aotc has).
    "bitcast-convert": 1,
    "call": VARIADIC,
    "fusion": VARIADIC,
    "while": 1,  # the initial loop state, a tuple
    "conditional": VARIADIC,  # branch selector, then one operand per branch
    # XLA's Fft: fft_type FFT/IFFT (c -> c), RFFT (f -> c, n//2+1 bins) or IRFFT (c -> f)
    # over the trailing len(fft_length) dimensions.
    "fft": 1,
}

#: XLA's complex-number ops: complex(re, im) builds c64/c128 from f32/f64 parts; real and
#: imag take them apart. Like every op on complex values, passes/complex_expansion.py
#: rewrites them into real arithmetic before a backend runs.
_COMPLEX = {"complex": 2, "real": 1, "imag": 1}

OPCODES: dict[str, OpInfo] = {}
for _name in _UNARY:
    OPCODES[_name] = OpInfo(_name, 1, "unary")
for _name in _BINARY:
    OPCODES[_name] = OpInfo(_name, 2, "binary")
OPCODES["select"] = OpInfo("select", 3, "ternary")
OPCODES["clamp"] = OpInfo("clamp", 3, "ternary")  # clamp(min, x, max)
OPCODES["compare"] = OpInfo("compare", 2, "compare")
OPCODES["convert"] = OpInfo("convert", 1, "convert")
OPCODES["is-finite"] = OpInfo("is-finite", 1, "predicate")
for _name, _arity in _STRUCTURAL.items():
    OPCODES[_name] = OpInfo(_name, _arity, "structural")
for _name, _arity in _COMPLEX.items():
    OPCODES[_name] = OpInfo(_name, _arity, "complex")

#: Opcodes that exist only on complex values (no backend emits them).
COMPLEX_OPCODES = frozenset({*_COMPLEX, "fft"})

#: fft's `fft_type` values.
FFT_TYPES = ("FFT", "IFFT", "RFFT", "IRFFT")

#: Elementwise ops defined on complex operands (the rest need real ones).
COMPLEX_ELEMENTWISE = frozenset({"add", "subtract", "multiply", "divide", "negate", "copy",
                                 "abs", "exponential", "log", "sqrt", "rsqrt"})

#: compare's `direction` attribute values.
COMPARISON_DIRECTIONS = ("EQ", "NE", "LT", "LE", "GT", "GE")

#: Binary ops valid only on integer or pred operands.
BITWISE_OPS = frozenset({"and", "or", "xor", "not", "shift-left", "shift-right-arithmetic",
                         "shift-right-logical"})


def info(opcode: str) -> OpInfo:
    """The OpInfo of an opcode name; KeyError with the name if unknown."""
    try:
        return OPCODES[opcode]
    except KeyError:
        raise KeyError(f"unknown HLO opcode {opcode!r}") from None
