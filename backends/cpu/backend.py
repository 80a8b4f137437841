"""The CPU backend behind the backend contract: an LLVM object file for any triple."""

from __future__ import annotations

from aotc.passes.multi_output_fusion import MultiOutputFusion

from ..base import Backend, BackendOptionError, BackendResult
from ..registry import register_backend
from .compiler import compile_module
from .scratch import scratch_bytes
from .target import TargetError, emit_data_object, resolve_target

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

    def hlo_passes(self) -> list:
        """A reduction computes the loop it reads and stores it as a second output, where
        other users need that loop too (softmax's exp: passes/multi_output_fusion.py)."""
        return [MultiOutputFusion()]

    def scratch_bytes(self, inst) -> int:
        """A fed GEMM's packing buffers, one per concurrently running task
        (backends/cpu/scratch.py)."""
        return scratch_bytes(self.target, inst, self.options.threads)

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
        return emit_data_object(self.target, symbol, data)
