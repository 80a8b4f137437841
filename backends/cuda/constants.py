"""Constants on the GPU: one zero-initialized global of the PTX module, `aotc_constants`,
that the host driver fills once after loading the module (cuModuleGetGlobal +
cuMemcpyHtoD). Every constant a kernel reads has its place in it; a kernel addresses a
constant as a constant expression (global + offset), valid in every function, including
those of while and conditional bodies. The PTX stays small (no initializers), and the bytes live once, in the host
object."""

from __future__ import annotations

import llvmlite.ir as ir
import numpy as np

from aotc.backends.cpu.buffers import ConstantPool, iteration_order
from aotc.backends.cpu.llvm_types import I8, PTR
from aotc.hlo import Instruction
from aotc.runtime.program import BUFFER_ALIGNMENT

#: The symbol of the constants global in the PTX module.
SYMBOL = "aotc_constants"


def constant_bytes(inst: Instruction) -> bytes:
    """A constant's bytes in its layout's order (what BufferView reads)."""
    shape = inst.shape
    array = np.asarray(inst.attrs["literal"], dtype=shape.element_type.np_dtype).reshape(shape.dims)
    return np.ascontiguousarray(np.transpose(array, iteration_order(shape))).tobytes()


class DeviceConstants(ConstantPool):
    """The constants a kernel module reads, in one device global (`data`: its contents).

    Offsets are given out as kernels ask for constants (also those of the computations a
    while or conditional calls, which are clones outside the entry module); `finish()`
    then declares the global at its final size.
    """

    def __init__(self, llvm_module: ir.Module):
        super().__init__(llvm_module)
        self._offsets: dict[Instruction, int] = {}
        self._data = bytearray()

    def offset_of(self, inst: Instruction) -> int:
        """Where constant `inst` is in the global (placed on first use)."""
        if inst not in self._offsets:
            self._data += bytes(-len(self._data) % BUFFER_ALIGNMENT)
            self._offsets[inst] = len(self._data)
            self._data += constant_bytes(inst)
        return self._offsets[inst]

    def pointer(self, inst: Instruction):
        # An i8 offset from the global, whose size is only known at the end.
        return ir.FormattedConstant(PTR, f'getelementptr (i8, ptr @"{SYMBOL}", '
                                         f'i64 {self.offset_of(inst)})')

    @property
    def data(self) -> bytes:
        return bytes(self._data)

    @property
    def total_bytes(self) -> int:
        return len(self._data)

    @total_bytes.setter
    def total_bytes(self, value: int) -> None:
        """(The base class counts bytes itself; here the data decides.)"""

    def finish(self, initialized: bool = False) -> ir.GlobalVariable:
        """Declare the global: zeros in the PTX (the driver uploads `data`), or holding
        `data` (the host grid runner)."""
        ty = ir.ArrayType(I8, max(len(self._data), 1))
        var = ir.GlobalVariable(self.module, ty, SYMBOL)
        data = self._data if initialized and self._data else None
        var.initializer = ir.Constant(ty, None if data is None else bytearray(data))
        var.align = BUFFER_ALIGNMENT
        if initialized:
            var.linkage = "internal"
        return var
