"""Buffers in LLVM IR: typed views with layout-aware addressing, and constant globals.

A `BufferView` turns a multi-dimensional index into an address using the shape's
minor-to-major layout, so every emitter handles any layout the same way.
"""

from __future__ import annotations

import llvmlite.ir as ir
import numpy as np

from aotc.hlo import Instruction, Shape

from .codegen import CodeGen
from .object_data import MIN_BYTES, ObjectData
from aotc.runtime.program import BUFFER_ALIGNMENT
from .llvm_types import I8, int_const, memory_type


def iteration_order(shape: Shape) -> list[int]:
    """Dimensions from the most major to the most minor: the cache-friendly loop order."""
    return list(reversed(shape.layout))


def strides(shape: Shape) -> list[int]:
    """Element strides of each dimension in memory, from the layout."""
    result = [0] * shape.rank
    stride = 1
    for dim in shape.layout:
        result[dim] = stride
        stride *= shape.dims[dim]
    return result


class BufferView:
    """A pointer to the dense array of `shape`, with element loads and stores."""

    def __init__(self, cg: CodeGen, pointer: ir.Value, shape: Shape):
        self.cg = cg
        self.pointer = pointer
        self.shape = shape
        self.element_type = shape.element_type
        self._memory_type = memory_type(shape.element_type)
        self._strides = strides(shape)

    def address(self, index) -> ir.Value:
        b = self.cg.builder
        offset = None
        for i, stride, extent in zip(index, self._strides, self.shape.dims):
            if extent == 1:
                continue  # the only valid index is 0
            term = b.mul(i, int_const(stride), flags=("nuw", "nsw")) if stride != 1 else i
            offset = term if offset is None else b.add(offset, term, flags=("nuw", "nsw"))
        if offset is None:
            return self.pointer
        return b.gep(self.pointer, [offset], inbounds=True, source_etype=self._memory_type)

    def load(self, index) -> ir.Value:
        b = self.cg.builder
        value = b.load(self.address(index), typ=self._memory_type)
        if self.element_type.is_pred:
            return b.icmp_unsigned("!=", value, ir.Constant(I8, 0))
        return value

    def store(self, index, value: ir.Value) -> None:
        b = self.cg.builder
        if self.element_type.is_pred:
            value = b.zext(value, I8)
        b.store(value, self.address(index))


def c_string(data: bytes | memoryview) -> str:
    """`data` as an LLVM IR string constant, every byte hex-escaped: formatted at C speed
    (llvmlite's own escaping runs a Python loop per byte; seconds for a model's weights)."""
    return 'c"' + ("\\" + data.hex("\\") if data else "") + '"'


class ConstantPool:
    """64-byte-aligned constant globals for constant instructions (created once).

    Each is a private global with its bytes as initializer, unless `outside` is set (an
    ELF, 64-bit Mach-O or COFF target) and it has at least `object_data.MIN_BYTES`: then
    it is an external hidden declaration whose bytes `outside` appends to the object after
    LLVM emitted it, so big weights never pass through LLVM IR text
    (backends/cpu/object_data/).
    """

    def __init__(self, module: ir.Module, outside: ObjectData | None = None):
        self.module = module
        self.outside = outside
        self._globals: dict[Instruction, ir.GlobalVariable] = {}
        self._ids: set[int] = set()  # of every global made here
        self.total_bytes = 0

    def owns(self, value) -> bool:
        """Whether `value` is one of this pool's constant globals."""
        return id(value) in self._ids

    def pointer(self, inst: Instruction) -> ir.GlobalVariable:
        if inst not in self._globals:
            self._globals[inst] = self._create(inst)
        return self._globals[inst]

    def raw(self, key, make_bytes, name: str) -> ir.GlobalVariable:
        """A global of the bytes `make_bytes()` returns (created once per `key`): constant
        data the backend lays out itself, e.g. a GEMM weight packed into panels."""
        if key not in self._globals:
            self._globals[key] = self._global(memoryview(make_bytes()), name)
        return self._globals[key]

    def _create(self, inst: Instruction) -> ir.GlobalVariable:
        shape = inst.shape
        array = np.asarray(inst.attrs["literal"], dtype=shape.element_type.np_dtype)
        array = array.reshape(shape.dims)
        # Bytes in layout order: major-to-minor axes, C-contiguous (a view when it is).
        array = np.ascontiguousarray(np.transpose(array, iteration_order(shape)))
        data = memoryview(array.reshape(-1).view(np.uint8))
        return self._global(data, f"constant.{inst.name}")

    def _global(self, data, name: str) -> ir.GlobalVariable:
        self.total_bytes += len(data)
        ty = ir.ArrayType(I8, len(data))
        if self.outside is not None and len(data) >= MIN_BYTES:
            var = ir.GlobalVariable(self.module, ty, name=self.outside.add(data))
            # Defined in this object, so addressed PC-relative, not through the GOT.
            # llvmlite prints a global's storage class right where LLVM expects the
            # visibility, and has no visibility of its own for global variables.
            var.storage_class = "hidden"
        else:
            var = ir.GlobalVariable(self.module, ty, name=self.module.get_unique_name(name))
            var.initializer = ir.FormattedConstant(ty, c_string(data))
            var.linkage = "private"
            var.unnamed_addr = True
        var.global_constant = True
        var.align = BUFFER_ALIGNMENT
        self._ids.add(id(var))
        return var
