"""The CPU backend behind the backend contract: an LLVM object file for any triple."""

from __future__ import annotations

import llvmlite.binding as llvm
import llvmlite.ir as ir

from ..base import Backend, BackendOptionError, BackendResult
from ..registry import register_backend
from .compiler import compile_module
from .target import TargetError, create_target_machine, resolve_target

__all__ = ["CpuBackend"]


@register_backend
class CpuBackend(Backend):
    """`--backend cpu`: code for `--target_triple`/`--target_cpu`/`--target_features`
    (the host where they are not given), resolved once here."""

    name = "cpu"

    def __init__(self, options):
        super().__init__(options)
        try:
            self.target = resolve_target(options.target_triple or None,
                                         options.target_cpu or None,
                                         options.target_features or None)
        except TargetError as e:  # a triple, CPU or feature LLVM does not know
            raise BackendOptionError(str(e)) from None

    def compile(self, module, assignment) -> BackendResult:
        code = compile_module(module, assignment, entry_symbol=self.options.entry_point,
                              target=self.target, threads=self.options.threads)
        # The IR text is only for --dump-hlo: printing it costs time on a big model.
        stages = {"llvm-ir": code.llvm_ir} if self.options.dump_hlo else {}
        return BackendResult(files={f"{self.options.name}.o": code.object_code},
                             target=code.triple, constant_bytes=code.constant_bytes,
                             info={"max_parallel_tasks": str(self.options.threads)},
                             stages=stages)

    def data_object(self, symbol: str, data: bytes) -> bytes:
        machine = create_target_machine(self.target)
        module = ir.Module(name="aotc_data")
        module.triple = self.target.triple
        if symbol:
            array = ir.ArrayType(ir.IntType(8), len(data))
            var = ir.GlobalVariable(module, array, symbol)
            var.global_constant = True
            var.initializer = ir.Constant(array, bytearray(data))
            var.align = 1
        return machine.emit_object(llvm.parse_assembly(str(module)))
