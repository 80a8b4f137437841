"""An IRBuilder that folds integer constants and reuses equal values in a block.

llvmlite's IRBuilder emits every call as an instruction: `mul i64 0, 36864`, `add x, 0`,
`and i1 true, c`, and the same `urem`/`udiv` of a row index once per user. LLVM folds
all of it at O3, but only after aotc has printed it and LLVM has parsed it (~12 us per
instruction to print, ~100 us per instruction through O3 on the GEMM kernels), so the
index arithmetic of the emitters cost more compile time than the kernels' arithmetic.
`FoldingBuilder` does the cheap part in Python as the instructions are built:

- integer operations whose operands are all constants become a constant (where LLVM
  would give the same value: no division by zero, no overflow where the flags say none);
- identities with one constant operand (x + 0, x * 1, x * 0, x / 1, x & true, ...)
  return the other operand or the constant (table `_IDENTITIES`);
- a select on a constant condition is its arm; a gep by a constant 0 is its pointer;
- a pure instruction (integer arithmetic, compares, selects, casts, geps) equal to one
  built earlier in the same basic block returns that one (the earlier one dominates
  every later position in its block). Only while the builder appends at the block's
  end: positioned before an instruction, an earlier equal one might come after it.

Folding only removes instructions whose values LLVM would compute the same way, so the
optimized code does not change; the emitters stay free to write index arithmetic
plainly.
"""

from __future__ import annotations

import operator

import llvmlite.ir as ir

__all__ = ["FoldingBuilder"]


def _int(value) -> int | None:
    """The Python int of an integer constant (None for anything else)."""
    if isinstance(value, ir.Constant) and isinstance(value.type, ir.IntType) \
            and isinstance(value.constant, int):
        return int(value.constant)  # a bool (i1) too
    return None


def _unsigned(value: int, width: int) -> int:
    return value & ((1 << width) - 1)


def _signed(value: int, width: int) -> int:
    value = _unsigned(value, width)
    return value - (1 << width) if value >> (width - 1) else value


def _fold_binary(opname: str, x: int, y: int, width: int, flags) -> int | None:
    """opname(x, y) on `width`-bit integers as LLVM defines it, or None where it is
    undefined or poison (division by zero, overflow the flags rule out, big shifts)."""
    ux, uy = _unsigned(x, width), _unsigned(y, width)
    sx, sy = _signed(x, width), _signed(y, width)
    if opname in ("add", "sub", "mul"):
        fn = {"add": operator.add, "sub": operator.sub, "mul": operator.mul}[opname]
        exact_u, exact_s = fn(ux, uy), fn(sx, sy)
        if "nuw" in flags and not 0 <= exact_u < (1 << width):
            return None
        if "nsw" in flags and not -(1 << (width - 1)) <= exact_s < (1 << (width - 1)):
            return None
        return _signed(exact_s, width)
    if opname in ("udiv", "urem", "sdiv", "srem") and flags:
        return None  # `exact`: poison unless it divides; left to LLVM
    if opname in ("udiv", "urem"):
        if uy == 0:
            return None
        return _signed(ux // uy if opname == "udiv" else ux % uy, width)
    if opname in ("sdiv", "srem"):
        if sy == 0 or (sx == -(1 << (width - 1)) and sy == -1):
            return None
        quotient = abs(sx) // abs(sy) * (1 if (sx < 0) == (sy < 0) else -1)
        return quotient if opname == "sdiv" else sx - quotient * sy
    if opname in ("shl", "lshr", "ashr"):
        if uy >= width or flags:
            return None
        if opname == "shl":
            return _signed(ux << uy, width)
        return _signed((ux if opname == "lshr" else sx) >> uy, width)
    if opname in ("and", "or", "xor"):
        fn = {"and": operator.and_, "or": operator.or_, "xor": operator.xor}[opname]
        return _signed(fn(ux, uy), width)
    return None


_COMPARES = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge,
}

#: (opname, which operand is the constant, its value) -> what the instruction is:
#: "other" (the non-constant operand) or "constant" (the constant itself). -1 stands for
#: all ones. Only rules that hold for every value of the other operand.
_IDENTITIES = {
    ("add", 1, 0): "other", ("add", 0, 0): "other",
    ("sub", 1, 0): "other",
    ("mul", 1, 1): "other", ("mul", 0, 1): "other",
    ("mul", 1, 0): "constant", ("mul", 0, 0): "constant",
    ("udiv", 1, 1): "other", ("sdiv", 1, 1): "other",
    ("shl", 1, 0): "other", ("lshr", 1, 0): "other", ("ashr", 1, 0): "other",
    ("and", 1, -1): "other", ("and", 0, -1): "other",
    ("and", 1, 0): "constant", ("and", 0, 0): "constant",
    ("or", 1, 0): "other", ("or", 0, 0): "other",
    ("or", 1, -1): "constant", ("or", 0, -1): "constant",
    ("xor", 1, 0): "other", ("xor", 0, 0): "other",
}
#: x urem 1 is 0 whatever x is.
_ZERO_IF_ONE = {"urem", "srem"}


def _key(value):
    """What identifies an operand for value numbering: constants by type and value."""
    if isinstance(value, ir.Constant):
        if isinstance(value.type, ir.IntType):  # the common case, without printing a type
            return ("i", value.type.width, value.constant)
        if not isinstance(value.constant, (list, tuple)):
            return ("c", str(value.type), value.constant)
    return id(value)


def _binary(opname: str):
    base = getattr(ir.IRBuilder, {"and": "and_", "or": "or_"}.get(opname, opname))

    def method(self, lhs, rhs, name="", flags=()):
        folded = self._fold(opname, lhs, rhs, flags)
        if folded is not None:
            return folded
        return self._numbered((opname, _key(lhs), _key(rhs), tuple(flags)),
                              lambda: base(self, lhs, rhs, name=name, flags=flags))

    method.__name__ = base.__name__
    method.__doc__ = f"{opname}, folded where its operands allow (module docstring)."
    return method


def _cast(opname: str):
    base = getattr(ir.IRBuilder, opname)

    def method(self, value, typ, name=""):
        if value.type == typ and opname in ("bitcast", "zext", "sext", "trunc"):
            return value
        constant = _int(value)
        if constant is not None and isinstance(typ, ir.IntType) \
                and opname in ("zext", "sext", "trunc"):
            width = value.type.width
            if opname == "zext":
                return ir.Constant(typ, _signed(_unsigned(constant, width), typ.width))
            if opname == "sext":
                return ir.Constant(typ, _signed(constant, width))
            return ir.Constant(typ, _signed(constant, typ.width))
        return self._numbered((opname, _key(value), str(typ)),
                              lambda: base(self, value, typ, name=name))

    method.__name__ = opname
    method.__doc__ = f"{opname}, folded on constants (module docstring)."
    return method


class FoldingBuilder(ir.IRBuilder):
    """ir.IRBuilder that folds constants and identities and numbers pure values per
    block (module docstring). A drop-in replacement: every method takes the same
    arguments, and returns a Value (not always a new Instruction)."""

    def __init__(self, block=None):
        super().__init__(block)
        # Per basic block (by id, the block kept alive by its entry): key -> value.
        self._numbering: dict[int, tuple[ir.Block, dict]] = {}

    # -- the two mechanisms --

    def _numbered(self, key, make):
        """The value of an equal pure instruction earlier in this block, else make()."""
        block = self.block
        if block is None or self._anchor != len(block.instructions):
            return make()
        entry = self._numbering.get(id(block))
        if entry is None or entry[0] is not block:
            entry = self._numbering[id(block)] = (block, {})
        table = entry[1]
        value = table.get(key)
        if value is None:
            value = table[key] = make()
        return value

    def _fold(self, opname: str, lhs, rhs, flags):
        """The folded value of lhs `opname` rhs, or None (build the instruction)."""
        if lhs.type != rhs.type or not isinstance(lhs.type, ir.IntType):
            return None
        width = lhs.type.width
        x, y = _int(lhs), _int(rhs)
        if x is not None and y is not None:
            value = _fold_binary(opname, x, y, width, flags)
            return None if value is None else ir.Constant(lhs.type, value)
        for position, constant, other in ((1, y, lhs), (0, x, rhs)):
            if constant is None:
                continue
            ones = -1 if _unsigned(constant, width) == (1 << width) - 1 else constant
            rule = _IDENTITIES.get((opname, position, ones)) \
                or _IDENTITIES.get((opname, position, constant))
            if rule == "other":
                return other
            if rule == "constant":
                return lhs if position == 0 else rhs
            if position == 1 and opname in _ZERO_IF_ONE and constant == 1:
                return ir.Constant(lhs.type, 0)
        return None

    # -- integer arithmetic --

    add = _binary("add")
    sub = _binary("sub")
    mul = _binary("mul")
    udiv = _binary("udiv")
    sdiv = _binary("sdiv")
    urem = _binary("urem")
    srem = _binary("srem")
    shl = _binary("shl")
    lshr = _binary("lshr")
    ashr = _binary("ashr")
    and_ = _binary("and")
    or_ = _binary("or")
    xor = _binary("xor")

    zext = _cast("zext")
    sext = _cast("sext")
    trunc = _cast("trunc")
    bitcast = _cast("bitcast")

    # -- compares, selects, addresses --

    def _icmp(self, prefix, cmpop, lhs, rhs, name):
        x, y = _int(lhs), _int(rhs)
        if x is not None and y is not None and cmpop in _COMPARES:
            width = lhs.type.width
            convert = _signed if prefix == "s" or cmpop in ("==", "!=") else _unsigned
            result = _COMPARES[cmpop](convert(x, width), convert(y, width))
            return ir.Constant(ir.IntType(1), int(result))
        return self._numbered(("icmp", prefix, cmpop, _key(lhs), _key(rhs)),
                              lambda: super(FoldingBuilder, self)._icmp(prefix, cmpop, lhs,
                                                                        rhs, name))

    def select(self, cond, lhs, rhs, name="", flags=()):
        """cond ? lhs : rhs; a constant condition (or equal arms) is folded."""
        c = _int(cond)
        if c is not None and isinstance(cond.type, ir.IntType) and cond.type.width == 1:
            return lhs if c & 1 else rhs
        if lhs is rhs:
            return lhs
        return self._numbered(("select", _key(cond), _key(lhs), _key(rhs), tuple(flags)),
                              lambda: super(FoldingBuilder, self).select(
                                  cond, lhs, rhs, name=name, flags=flags))

    def gep(self, ptr, indices, inbounds=False, name="", source_etype=None):
        """getelementptr; a single constant-0 index is the pointer itself."""
        if len(indices) == 1 and _int(indices[0]) == 0 \
                and isinstance(ptr.type, ir.PointerType):
            return ptr
        key = ("gep", _key(ptr), tuple(map(_key, indices)), inbounds,
               None if source_etype is None else str(source_etype))
        return self._numbered(key, lambda: super(FoldingBuilder, self).gep(
            ptr, indices, inbounds=inbounds, name=name, source_etype=source_etype))
