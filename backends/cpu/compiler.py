"""The CPU backend's entry point: HLO module + buffer assignment -> optimized object file."""

from __future__ import annotations

from dataclasses import dataclass, field

import llvmlite.binding as llvm
import llvmlite.ir as ir

from aotc import progress
from aotc.hlo import Module

from .object_data import for_target
from .emitter import EntryEmitter
from .module_parts import CompiledParts, PartPipeline, WholeModule
from .target import TargetInfo, create_target_machine, default_triple, resolve_target

__all__ = ["CpuArtifact", "compile_module", "default_triple"]


@dataclass
class CpuArtifact:
    """What the CPU backend produces for one module."""

    object_code: bytes  # ELF/Mach-O/COFF relocatable object for `triple`
    optimized: CompiledParts | WholeModule = field(repr=False)  # module_parts.py
    triple: str
    constant_bytes: int  # bytes of constant data in the object

    @property
    def llvm_ir(self) -> str:
        """The optimized LLVM IR, for dumps and debugging (linked and printed on demand: on
        a big model the text takes a noticeable part of the compile)."""
        return str(self.optimized.module())


def compile_module(module: Module, assignment, *, entry_symbol: str, triple: str | None = None,
                   cpu: str | None = None, features: str | None = None,
                   target: TargetInfo | None = None, opt_level: int = 3,
                   threads: int = 1) -> CpuArtifact:
    """Compile `module` (entry root: a tuple of results) with buffers from `assignment`.

    The target is `target` when given (already resolved), else the host's triple, CPU and
    features wherever `triple`, `cpu`, `features` leave them out. The object defines
    `entry_symbol` with the calling convention of runtime/program.py; kernels split into
    tasks run at most `threads` at once on the caller's pool (backends/cpu/tasks.py).
    """
    target = target or resolve_target(triple, cpu, features)
    machine = create_target_machine(target, opt_level)
    stages = progress.current()
    with stages.stage("backend codegen"):
        llvm_module = ir.Module(name=module.name)
        llvm_module.triple = target.triple
        llvm_module.data_layout = str(machine.target_data)
        # Big constants bypass LLVM's IR text where the object format allows (object_data/).
        outside = for_target(target.triple, entry_symbol)
        emitter = EntryEmitter(llvm_module, module, assignment, target, outside=outside,
                               threads=threads)
    # Parts of the module are optimized and emitted while the rest is being emitted;
    # leaving the block early (an error, an interrupt) stops their processes.
    with PartPipeline(llvm_module, machine, lambda part: _optimize(part, machine, opt_level),
                      printed=emitter.kernels.printed) as parts:
        with stages.stage("backend codegen"):
            emitter.emit(entry_symbol, kernels_done=parts.advance)
        with stages.stage("LLVM optimization"):
            optimized = parts.finish()
    with stages.stage("object emission"):
        object_code = optimized.object_code()
    return CpuArtifact(
        object_code=outside.attach(object_code) if outside else object_code,
        optimized=optimized,
        triple=target.triple,
        constant_bytes=emitter.constants.total_bytes,
    )


#: The loop-unroll threshold of the O3 pipeline: O2's (150) instead of O3's own (300). The
#: higher one quadrupled MobileNetV2's optimized IR (1.4 MB in, 5.9 MB out) and more than
#: doubled LLVM's time (optimization plus object emission: 5.4 s against 2.1 s of CPU),
#: with the models of the compile-time set running no faster (LeNet at batch 8 and
#: MobileNetV2 a little faster with 150). LLVM reads it as a process-wide option.
UNROLL_THRESHOLD = 150

#: How many MemorySSA accesses dead-store elimination walks from each store (LLVM's
#: default: 90). The GEMM and convolution kernels store a whole micro-tile of C at a time,
#: and DSE's walks over those stores took a third of LLVM's optimization time on LeNet's
#: second convolution; at 20 the optimized IR of the compile-time set is identical and
#: the optimization 19-30% faster (ResNet-style 1.14 -> 0.91 s, LeNet b8 0.47 -> 0.33 s).
DSE_WALK_LIMIT = 20

_options_set = False


def _set_llvm_options() -> None:
    global _options_set
    if not _options_set:
        llvm.set_option("aotc", f"-unroll-threshold={UNROLL_THRESHOLD}")
        llvm.set_option("aotc", f"-dse-memoryssa-walklimit={DSE_WALK_LIMIT}")
        _options_set = True


def _optimize(parsed, machine, opt_level: int) -> None:
    """The new pass manager's O<n> pipeline with loop and SLP vectorization."""
    _set_llvm_options()
    tuning = llvm.create_pipeline_tuning_options(speed_level=opt_level)
    tuning.loop_vectorization = opt_level >= 2
    tuning.slp_vectorization = opt_level >= 2
    tuning.loop_unrolling = opt_level >= 2
    builder = llvm.create_pass_builder(machine, tuning)
    builder.getModulePassManager().run(parsed, builder)
