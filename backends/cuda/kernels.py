"""The kernel stage: HLO module + buffer assignment -> an LLVM module of kernels and the
launch plan, for the GPU (NVPTX) or for the host (the grid emulation of grid_runner.py)."""

from __future__ import annotations

from dataclasses import dataclass

import llvmlite.ir as ir

from aotc.backends.cpu.target import TargetInfo
from aotc.hlo import Module

from . import control_flow, fusion, gemm, indexing, reduction  # noqa: F401  (kernel rules)
from .constants import DeviceConstants
from .hooks import GpuHooks, Hooks
from .kernel_emitter import KernelEmitter
from .ptx import TRIPLE, compile_ptx, gpu_target, ptx_version


def emit_kernel_module(module: Module, assignment, target: TargetInfo,
                       hooks_type: type[Hooks]) -> tuple[ir.Module, KernelEmitter]:
    """The kernels of `module` in a new LLVM module for `target` (not yet optimized), and
    the emitter (its `plan`). The constants are one global (constants.py): zeros that
    the driver fills on the GPU, initialized on the host."""
    llvm_module = ir.Module(name=module.name)
    llvm_module.triple = target.triple
    emitter = KernelEmitter(llvm_module, module, assignment, target, hooks_type(llvm_module))
    emitter.constants = DeviceConstants(llvm_module)
    emitter.emit_kernels()
    emitter.constants.finish(initialized=hooks_type is not GpuHooks)
    return llvm_module, emitter


@dataclass
class GpuKernels:
    """What the PTX stage produces for one module."""

    ptx: str
    llvm_ir: str  # optimized NVVM IR, for dumps
    plan: list  # launch_plan steps
    constants: bytes  # the contents of the module's constants global (constants.SYMBOL)
    gpu_arch: str

    @property
    def constant_bytes(self) -> int:
        return len(self.constants)

    @property
    def ptx_version(self) -> str:
        return ptx_version(self.ptx)


def compile_kernels(module: Module, assignment, gpu_arch: str = "sm_75",
                    opt_level: int = 3) -> GpuKernels:
    """PTX for `gpu_arch` of every kernel of `module`, and the launch plan."""
    target = gpu_target(gpu_arch)
    llvm_module, emitter = emit_kernel_module(module, assignment, target, GpuHooks)
    optimized, ptx = compile_ptx(str(llvm_module), target, opt_level)
    return GpuKernels(ptx, optimized, emitter.plan, emitter.constants.data, gpu_arch)


__all__ = ["GpuKernels", "TRIPLE", "compile_kernels", "emit_kernel_module"]
