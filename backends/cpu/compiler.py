"""The CPU backend's entry point: HLO module + buffer assignment -> optimized object file."""

from __future__ import annotations

from dataclasses import dataclass, field

import llvmlite.binding as llvm
import llvmlite.ir as ir

from aotc.hlo import Module
from aotc.passes import progress

from .elf_data import ElfData, object_format
from .emitter import EntryEmitter
from .target import TargetInfo, create_target_machine, default_triple, resolve_target

__all__ = ["CpuArtifact", "compile_module", "default_triple"]


@dataclass
class CpuArtifact:
    """What the CPU backend produces for one module."""

    object_code: bytes  # ELF/Mach-O/COFF relocatable object for `triple`
    triple: str
    constant_bytes: int  # bytes of constant data in the object
    optimized: llvm.ModuleRef = field(repr=False)  # the optimized LLVM module

    @property
    def llvm_ir(self) -> str:
        """The optimized LLVM IR, for dumps and debugging (printed on demand: for a big
        model that takes seconds)."""
        return str(self.optimized)


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
    llvm_module = ir.Module(name=module.name)
    llvm_module.triple = target.triple
    llvm_module.data_layout = str(machine.target_data)
    # Big constants of an ELF object bypass LLVM's IR text (backends/cpu/elf_data.py).
    outside = ElfData(entry_symbol) if object_format(target.triple) == "elf" else None
    emitter = EntryEmitter(llvm_module, module, assignment, target, outside=outside,
                           threads=threads)
    emitter.emit(entry_symbol)

    progress.detail("LLVM: parsing the IR")
    parsed = llvm.parse_assembly(str(llvm_module))
    parsed.triple = target.triple
    parsed.verify()
    progress.detail(f"LLVM: optimizing (O{opt_level})")
    _optimize(parsed, machine, opt_level)
    progress.detail("LLVM: object code")
    object_code = machine.emit_object(parsed)
    return CpuArtifact(
        object_code=outside.attach(object_code) if outside else object_code,
        triple=target.triple,
        constant_bytes=emitter.constants.total_bytes,
        optimized=parsed,
    )


def _optimize(parsed, machine, opt_level: int) -> None:
    """The new pass manager's O<n> pipeline with loop and SLP vectorization."""
    tuning = llvm.create_pipeline_tuning_options(speed_level=opt_level)
    tuning.loop_vectorization = opt_level >= 2
    tuning.slp_vectorization = opt_level >= 2
    tuning.loop_unrolling = opt_level >= 2
    builder = llvm.create_pass_builder(machine, tuning)
    builder.getModulePassManager().run(parsed, builder)
