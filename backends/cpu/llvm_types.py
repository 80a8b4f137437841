"""How HLO element types look in LLVM IR: in registers and in memory.

pred is i1 in registers (what compares and selects produce) but one byte (0/1) in memory;
f16 stays `half` in registers and memory, and arithmetic on it widens to f32 first.
"""

from __future__ import annotations

import llvmlite.ir as ir

from aotc.hlo.dtypes import DType

I1 = ir.IntType(1)
I8 = ir.IntType(8)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
HALF = ir.HalfType()
F32 = ir.FloatType()
F64 = ir.DoubleType()
PTR = ir.PointerType()

_FLOATS = {16: HALF, 32: F32, 64: F64}


def register_type(dtype: DType) -> ir.Type:
    """The LLVM type an element of `dtype` has while being computed on."""
    if dtype.is_pred:
        return I1
    if dtype.is_integer:
        return ir.IntType(dtype.bits)
    if dtype.name == "bf16":
        raise NotImplementedError("the CPU backend does not support bf16 yet")
    return _FLOATS[dtype.bits]


def memory_type(dtype: DType) -> ir.Type:
    """The LLVM type an element of `dtype` has in a buffer."""
    return I8 if dtype.is_pred else register_type(dtype)


def compute_type(dtype: DType) -> ir.Type:
    """The type arithmetic happens in: f16 is widened to f32, like XLA's CPU backend."""
    return F32 if dtype.name == "f16" else register_type(dtype)


def int_const(value: int, ty: ir.Type = I64) -> ir.Constant:
    return ir.Constant(ty, int(value))


def float_suffix(ty: ir.Type) -> str:
    """The overload suffix LLVM intrinsics use for a type, e.g. "f32", "i64", "v16f32"
    (a vector) or "p0" (a pointer)."""
    if isinstance(ty, ir.VectorType):
        return f"v{ty.count}{float_suffix(ty.element)}"
    if isinstance(ty, ir.PointerType):
        return "p0"
    if isinstance(ty, ir.IntType):
        return f"i{ty.width}"
    return {HALF: "f16", F32: "f32", F64: "f64"}[ty]


def instruction_operands(instr) -> list:
    """The values an llvmlite instruction uses (a phi's incoming values included)."""
    if isinstance(instr, ir.PhiInstr):
        return [value for value, _ in instr.incomings]
    return instr.operands
