"""The CPU backend's folding IRBuilder (backends/cpu/folding.py) and CodeGen's static loops.

Constant folding is checked against LLVM itself: each operation on constants is also built
with llvmlite's plain IRBuilder into a function that LLVM compiles and runs (MCJIT), and
the folded constant must equal what that function returns, bit for bit. Where LLVM
defines no value (division by zero, overflow under nuw/nsw, `exact` or oversized shifts)
the builder must not fold.
"""

from __future__ import annotations

import ctypes
import itertools

import llvmlite.binding as llvm
import llvmlite.ir as ir
import pytest

from aotc.backends.cpu.codegen import CodeGen
from aotc.backends.cpu.folding import FoldingBuilder
from aotc.backends.cpu.target import resolve_target

I1, I8, I32, I64 = ir.IntType(1), ir.IntType(8), ir.IntType(32), ir.IntType(64)
BINARY = ["add", "sub", "mul", "udiv", "sdiv", "urem", "srem", "shl", "lshr", "ashr",
          "and_", "or_", "xor"]
FLAGS = {"add": [(), ("nuw",), ("nsw",), ("nuw", "nsw")], "sub": [(), ("nuw",), ("nsw",)],
         "mul": [(), ("nsw",), ("nuw", "nsw")], "shl": [(), ("nuw",)]}
COMPARES = ["==", "!=", "<", "<=", ">", ">="]


def _cases(width: int):
    values = [0, 1, 2, 3, 7, -1, -2, -7, (1 << (width - 1)) - 1, -(1 << (width - 1)),
              (1 << (width - 1)) - 2, width - 1, width]
    return sorted(set(v for v in values if -(1 << (width - 1)) <= v < (1 << width)))


_CTYPES = {8: ctypes.c_uint8, 32: ctypes.c_uint32, 64: ctypes.c_uint64}


@pytest.fixture(scope="module")
def jit():
    """jit(module, ctype, argument count) -> a ctypes function for the module's `f`."""
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    machine = llvm.Target.from_default_triple().create_target_machine()
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), machine)
    kept = []

    def compile_(module: ir.Module, ctype, result_ctype=None):
        parsed = llvm.parse_assembly(str(module))
        engine.add_module(parsed)
        engine.finalize_object()
        kept.append(parsed)
        return ctypes.CFUNCTYPE(result_ctype or ctype, ctype, ctype)(
            engine.get_function_address(module.name))

    return compile_


def _plain(name: str, ty: ir.Type, result: ir.Type, build) -> ir.Module:
    """A module whose function `name`(a, b) returns build(plain IRBuilder, a, b)."""
    module = ir.Module(name=name)
    fn = ir.Function(module, ir.FunctionType(result, [ty, ty]), name=name)
    b = ir.IRBuilder(fn.append_basic_block())
    b.ret(build(b, *fn.args))
    return module


def _scratch() -> FoldingBuilder:
    module = ir.Module()
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), []), name="scratch")
    return FoldingBuilder(fn.append_basic_block())


@pytest.mark.parametrize("width", [8, 32, 64])
@pytest.mark.parametrize("op", BINARY)
def test_binary_folds_like_llvm(jit, width, op):
    """Every fold of two constants equals LLVM's result of the same instruction (run on
    the same operands); where LLVM defines no result nothing is folded."""
    ty = ir.IntType(width)
    mask = (1 << width) - 1
    opname = op.rstrip("_")
    folding, kept = _scratch(), 0
    for f, flags in enumerate(FLAGS.get(opname, [()])):
        run = jit(_plain(f"{opname}{width}_{f}", ty, ty,
                         lambda b, x, y: getattr(ir.IRBuilder, op)(b, x, y, flags=flags)),
                  _CTYPES[width])
        for x, y in itertools.product(_cases(width), repeat=2):
            folded = getattr(folding, op)(ir.Constant(ty, x), ir.Constant(ty, y), flags=flags)
            if not _defined(opname, x, y, width, flags):
                assert not isinstance(folded, ir.Constant), (op, x, y, flags)
                kept += 1
                continue
            assert isinstance(folded, ir.Constant), (op, x, y, flags)
            assert folded.constant & mask == run(x & mask, y & mask), (op, flags, x, y)
    # Only the undefined cases were built (each once: equal ones are numbered).
    assert len(folding.block.instructions) <= kept


def _defined(opname, x, y, width, flags) -> bool:
    """Whether LLVM gives opname(x, y) a value (not UB, not poison)."""
    mask = (1 << width) - 1
    ux, uy = x & mask, y & mask
    sx = ux - (1 << width) if ux >> (width - 1) else ux
    sy = uy - (1 << width) if uy >> (width - 1) else uy
    low, high = -(1 << (width - 1)), 1 << (width - 1)
    if opname in ("udiv", "urem"):
        return uy != 0
    if opname in ("sdiv", "srem"):
        return sy != 0 and not (sx == low and sy == -1)
    if opname in ("shl", "lshr", "ashr"):
        return uy < width and not flags
    if opname in ("add", "sub", "mul"):
        fn = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b,
              "mul": lambda a, b: a * b}[opname]
        if "nuw" in flags and not 0 <= fn(ux, uy) <= mask:
            return False
        if "nsw" in flags and not low <= fn(sx, sy) < high:
            return False
    return True


@pytest.mark.parametrize("signed", [True, False])
def test_compares_fold_like_llvm(jit, signed):
    mask = (1 << 32) - 1
    folding = _scratch()
    for c, cmpop in enumerate(COMPARES):
        method = "icmp_signed" if signed else "icmp_unsigned"
        run = jit(_plain(f"cmp{int(signed)}_{c}", I32, I8,
                         lambda b, x, y: b.zext(getattr(b, method)(cmpop, x, y), I8)),
                  ctypes.c_uint32, ctypes.c_uint8)
        for x, y in itertools.product(_cases(32), repeat=2):
            folded = getattr(folding, method)(cmpop, ir.Constant(I32, x), ir.Constant(I32, y))
            assert isinstance(folded, ir.Constant)
            assert int(folded.constant) == run(x & mask, y & mask), (cmpop, signed, x, y)


def _builder():
    module = ir.Module()
    fn = ir.Function(module, ir.FunctionType(I64, [I64, I64, ir.PointerType()]), name="f")
    return fn, FoldingBuilder(fn.append_basic_block())


def test_identities():
    fn, b = _builder()
    x = fn.args[0]
    zero, one, c = ir.Constant(I64, 0), ir.Constant(I64, 1), ir.Constant(I64, 36864)
    assert b.add(x, zero) is x and b.add(zero, x) is x and b.sub(x, zero) is x
    assert b.mul(x, one) is x and b.mul(one, x) is x
    assert b.mul(zero, c, flags=("nuw", "nsw")).constant == 0
    assert b.mul(x, zero).constant == 0 and b.urem(x, one).constant == 0
    assert b.udiv(x, one) is x and b.sdiv(x, one) is x and b.shl(x, zero) is x
    assert b.and_(x, ir.Constant(I64, -1)) is x and b.or_(x, zero) is x
    cond = b.icmp_signed("<", x, c)
    assert b.and_(ir.Constant(I1, 1), cond) is cond
    assert b.and_(cond, ir.Constant(I1, 0)).constant == 0
    assert b.select(ir.Constant(I1, 1), x, c) is x and b.select(ir.Constant(I1, 0), x, c) is c
    assert b.gep(fn.args[2], [zero], source_etype=ir.FloatType()) is fn.args[2]
    assert b.zext(ir.Constant(I1, 1), I64).constant == 1
    assert b.sext(ir.Constant(I1, 1), I64).constant == -1
    assert b.trunc(ir.Constant(I64, 257), ir.IntType(8)).constant == 1
    # Nothing that depends on a runtime value is folded away.
    assert b.sub(zero, x).opname == "sub" and b.udiv(one, x).opname == "udiv"
    assert len(fn.blocks[0].instructions) == 3  # the icmp, sub and udiv


def test_values_are_numbered_per_block():
    fn, b = _builder()
    x, y = fn.args[0], fn.args[1]
    c48 = ir.Constant(I64, 48)
    first = b.urem(x, c48)
    assert b.urem(x, ir.Constant(I64, 48)) is first  # equal constants, equal key
    assert b.urem(x, c48, flags=()) is first
    assert b.add(x, y, flags=("nuw",)) is not b.add(x, y)  # flags are part of the value
    pointer = b.gep(fn.args[2], [first], inbounds=True, source_etype=ir.FloatType())
    assert b.gep(fn.args[2], [first], inbounds=True, source_etype=ir.FloatType()) is pointer
    assert b.gep(fn.args[2], [first], source_etype=ir.FloatType()) is not pointer
    # Another block: not reused (the first block need not dominate it).
    other = fn.append_basic_block("other")
    b.branch(other)
    b.position_at_end(other)
    assert b.urem(x, c48) is not first
    # Positioned before an instruction: an equal one may follow, so nothing is reused.
    again = b.udiv(x, c48)
    b.position_before(again)
    assert b.udiv(x, c48) is not again
    b.position_at_end(other)
    b.ret(again)
    llvm.parse_assembly(str(fn.module)).verify()


def _codegen():
    module = ir.Module()
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [ir.PointerType()]), name="f")
    return fn, CodeGen(module, fn, resolve_target(None, None, None))


@pytest.mark.parametrize("count", [0, 1, 2])
def test_static_loops(count):
    """A constant trip count of 1 is straight-line code with i = 0; a count of 0 leaves
    no block and no instruction of its body behind."""
    fn, cg = _codegen()
    b = cg.builder
    with cg.for_range(count, name="i") as i:
        with cg.for_range(3, name="j") as j:
            b.store(ir.Constant(I64, 5), b.gep(fn.args[0], [b.add(i, j)], source_etype=I64))
    b.ret_void()
    text = str(fn)
    assert ("i.header" in text) == (count > 1)
    assert ("store" in text) == (count > 0)
    llvm.parse_assembly(str(fn.module)).verify()
    if count == 1:
        assert "j.header" in text and "%\"i\"" not in text


def test_static_loop_runs_its_body_once(jit):
    """for_range(1) and carried_loop(1) compute what the loops they replace compute."""
    from aotc.backends.cpu.gemm import carried_loop

    module = ir.Module(name="loops")
    fn = ir.Function(module, ir.FunctionType(I64, [I64, I64]), name="loops")
    cg = CodeGen(module, fn, resolve_target(None, None, None))
    b = cg.builder
    total = carried_loop(cg, 1, [fn.args[0]], lambda k, acc: [b.add(acc[0], b.add(k, fn.args[1]))],
                         name="k")
    total = carried_loop(cg, 0, total, lambda k, acc: [b.mul(acc[0], fn.args[1])], name="z")
    b.ret(total[0])
    run = jit(module, ctypes.c_uint64)
    assert run(40, 2) == 42 and run(1, 5) == 6
