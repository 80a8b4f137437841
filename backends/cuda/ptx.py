"""The NVPTX target and the PTX stage: LLVM IR of the kernels -> optimized IR -> PTX text.

The PTX declares the lowest ISA version the architecture needs (what the kernels use,
shfl.sync, bar.sync and atomics, needs at most PTX 6.0), so the driver can JIT it forward
for every newer GPU; CUDA 13's ptxas accepts sm_75 and newer.
"""

from __future__ import annotations

import re

import llvmlite.binding as llvm

from aotc.backends.cpu.target import TargetInfo, default_triple

TRIPLE = "nvptx64-nvidia-cuda"

#: GPU architecture -> the first PTX ISA version that supports it (x10: 63 is PTX 6.3).
PTX_ISA = {"sm_75": 63, "sm_80": 70, "sm_86": 71, "sm_87": 74, "sm_89": 78, "sm_90": 78}
GPU_ARCHS = tuple(PTX_ISA)


class GpuArchError(ValueError):
    """An unknown --gpu_arch value."""


def ptx_isa(gpu_arch: str) -> int:
    """The PTX ISA version (x10) the PTX for `gpu_arch` declares."""
    if gpu_arch not in PTX_ISA:
        raise GpuArchError(f"--gpu_arch: unknown GPU architecture {gpu_arch!r}; "
                           f"expected one of {', '.join(GPU_ARCHS)}")
    return PTX_ISA[gpu_arch]


def gpu_target(gpu_arch: str) -> TargetInfo:
    """The TargetInfo the shared emitters see for `gpu_arch`."""
    return TargetInfo(TRIPLE, gpu_arch, f"+ptx{ptx_isa(gpu_arch)}")


def target_machine(target: TargetInfo, opt_level: int = 3):
    default_triple()  # registers the LLVM targets (NVPTX among them)
    return llvm.Target.from_triple(TRIPLE).create_target_machine(
        cpu=target.cpu, features=target.features, opt=opt_level)


def compile_ptx(llvm_ir: str, target: TargetInfo, opt_level: int = 3) -> tuple[str, str]:
    """(optimized LLVM IR, PTX) of a kernel module."""
    machine = target_machine(target, opt_level)
    parsed = llvm.parse_assembly(llvm_ir)
    parsed.triple = TRIPLE
    parsed.data_layout = str(machine.target_data)
    parsed.verify()
    tuning = llvm.create_pipeline_tuning_options(speed_level=opt_level)
    builder = llvm.create_pass_builder(machine, tuning)
    builder.getModulePassManager().run(parsed, builder)
    return str(parsed), machine.emit_assembly(parsed)


def ptx_version(ptx: str) -> str:
    """The `.version` a PTX text declares, e.g. "6.3"."""
    match = re.search(r"^\.version\s+(\S+)", ptx, re.M)
    return match.group(1) if match else ""
