"""The CUDA backend's pipeline: kernels -> PTX (kernels.py, ptx.py), then the host
object embedding the PTX with the driver that launches it (host_driver.py)."""

from __future__ import annotations

from dataclasses import dataclass

import llvmlite.binding as llvm
import llvmlite.ir as ir

from aotc.backends.cpu.object_data import for_target
from aotc.backends.cpu.target import TargetInfo, create_target_machine, resolve_target
from aotc.runtime.program import BUFFER_ALIGNMENT
from aotc.hlo import Module

from .host_driver import HostDriver
from .kernels import GpuKernels, compile_kernels


@dataclass
class CudaArtifact:
    """What the CUDA backend produces for one module."""

    object_code: bytes  # host object: the driver, the PTX as data
    ptx: str
    kernels: GpuKernels
    host_ir: str
    session_bytes: int  # scratch bytes of the host temp arena: the driver state of one instance
    device_arena_bytes: int

    @property
    def stages(self) -> dict[str, str]:
        return {"nvvm-ir": self.kernels.llvm_ir, "ptx": self.ptx, "host-ir": self.host_ir}


def session_offset(assignment) -> int:
    """Where the driver state lives in the host temp arena: the backend's scratch bytes
    after the (host-side unused) temporaries, as the backend contract places them."""
    return -(-assignment.temp_bytes // BUFFER_ALIGNMENT) * BUFFER_ALIGNMENT


def compile_cuda_module(module: Module, assignment, *, entry_symbol: str, gpu_arch: str = "sm_75",
                        target: TargetInfo | None = None) -> CudaArtifact:
    """PTX for `gpu_arch` and a host object for `target` (the host by default) defining
    `entry_symbol` and its companions (host_driver.py)."""
    kernels = compile_kernels(module, assignment, gpu_arch)
    target = target or resolve_target(None, None, None)
    machine = create_target_machine(target, 2)
    host = ir.Module(name=f"{module.name}.host")
    host.triple = target.triple
    host.data_layout = str(machine.target_data)
    params = module.entry.parameters
    outside = for_target(target.triple, entry_symbol)
    driver = HostDriver(host, entry_symbol, kernels.ptx, kernels.constants, kernels.plan, outside,
                        [p.shape.byte_size for p in params],
                        [r.shape.byte_size for r in assignment.results], assignment.temp_bytes,
                        session_offset(assignment))
    driver.emit()
    parsed = llvm.parse_assembly(str(host))
    parsed.verify()
    tuning = llvm.create_pipeline_tuning_options(speed_level=2)
    builder = llvm.create_pass_builder(machine, tuning)
    builder.getModulePassManager().run(parsed, builder)
    code = machine.emit_object(parsed)
    return CudaArtifact(outside.attach(code) if outside else code, kernels.ptx, kernels, str(parsed),
                        driver.layout.size, driver.arena_bytes)
