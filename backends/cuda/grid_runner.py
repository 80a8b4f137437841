"""The host grid runner: the CUDA backend's kernels compiled for the host triple, with an
entry function of the CPU backend's calling convention that runs the launch plan (its
control flow included), every kernel over its whole grid (hooks.HostHooks).

It is how the kernels' numerics are checked against the evaluator on a machine without a
GPU: the kernel bodies are the very ones emitted as PTX, only the hooks differ.
"""

from __future__ import annotations

import llvmlite.binding as llvm
import llvmlite.ir as ir

from aotc.backends.cpu.compiler import CpuArtifact
from aotc.backends.cpu.llvm_types import I8, PTR, int_const
from aotc.backends.cpu.target import create_target_machine, resolve_target
from aotc.hlo import Module

from .constants import SYMBOL as CONSTANTS
from .hooks import HostHooks
from .kernels import emit_kernel_module
from .launch_plan import BufferRef, Launch, emit_plan


class _HostPlan:
    """Kernels are plain calls; device memory is host memory."""

    def __init__(self, llvm_module: ir.Module, emitter, impl: ir.Function):
        self.module, self.emitter, self.impl = llvm_module, emitter, impl

    def address(self, b: ir.IRBuilder, ref: BufferRef) -> ir.Value:
        em = self.emitter
        if ref.kind == "constant":
            base = self.module.globals[CONSTANTS]
        else:
            k = {"arg": ref.index, "result": em.num_args + ref.index,
                 "temp": em.buffer_count - 1}[ref.kind]
            base = self.impl.args[k]
        return b.gep(base, [int_const(ref.offset)], source_etype=I8)

    def launch(self, b: ir.IRBuilder, step: Launch) -> None:
        params = list(self.impl.args) if step.params is None else [
            self.address(b, ref) for ref in step.params]
        b.call(self.module.globals[step.kernel], params)

    def read(self, b: ir.IRBuilder, ref: BufferRef, ty: ir.Type) -> ir.Value:
        return b.load(self.address(b, ref), typ=ty)


def compile_grid_module(module: Module, assignment, *, entry_symbol: str,
                        opt_level: int = 2) -> CpuArtifact:
    """A host object defining `entry_symbol` (aotc.runtime.program's convention) that
    computes `module` by emulating every kernel launch."""
    target = resolve_target(None, None, None)
    machine = create_target_machine(target, opt_level)
    llvm_module, emitter = emit_kernel_module(module, assignment, target, HostHooks)
    llvm_module.data_layout = str(machine.target_data)
    impl = ir.Function(llvm_module, ir.FunctionType(ir.VoidType(), [PTR] * emitter.buffer_count),
                       name=f"{entry_symbol}.plan")
    impl.linkage = "internal"
    b = ir.IRBuilder(impl.append_basic_block("entry"))
    emit_plan(impl, b, emitter.plan, _HostPlan(llvm_module, emitter, impl))
    b.ret_void()
    emitter.emit_entry_function(entry_symbol, impl)

    parsed = llvm.parse_assembly(str(llvm_module))
    parsed.verify()
    tuning = llvm.create_pipeline_tuning_options(speed_level=opt_level)
    builder = llvm.create_pass_builder(machine, tuning)
    builder.getModulePassManager().run(parsed, builder)
    return CpuArtifact(object_code=machine.emit_object(parsed), optimized=parsed,
                       triple=target.triple, constant_bytes=emitter.constants.total_bytes)
