"""Kernels emitted once: identical kernels that differ only in their constants share code.

MobileNetV2, EfficientNet and ResNet repeat blocks whose fusions and convolutions have
the same shapes and ops and differ only in their weights. Each kernel (an internal
function from `tasks.task_kernel`) reads its constants as globals of the ConstantPool;
once its body is complete, `KernelCache.finish` turns those globals into pointer
parameters after the buffers' (`noalias`, the global's alignment, dereferenceable for its
size), which the caller passes like buffers.
If an earlier kernel has the same IR text (its own name aside), the new one is removed
from the module and the caller calls the earlier one with its own constants. LLVM then
optimizes and emits each distinct kernel once: on MobileNetV2 and EfficientNet-B0 about a
third of the kernel code.

Only a kernel of an instruction whose signature (opcode, fusion kind, shapes and layouts
of the result and the operands) repeats in the module can have a twin; the others keep
reading their globals (as pointer arguments, LLVM spent ~4% more time on them, and the
entry's pool and inline paths both call a kernel, so constant propagation does not put
the globals back). Identity is decided on the IR text, so a kernel is only ever shared
with one that is exactly the same code.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable

import llvmlite.ir as ir
from llvmlite.ir.instructions import GEPInstr

from .llvm_types import PTR, instruction_operands

__all__ = ["KernelCache"]

_LOOP_ID = re.compile(r"!llvm\.loop !\d+")


class KernelCache:
    """The distinct kernels of one LLVM module, keyed by their IR text.

    `is_constant(value)` says whether a global is constant data the kernels may take as
    a pointer argument instead (the ConstantPool's globals).
    """

    def __init__(self, module: ir.Module, is_constant):
        self.module = module
        self.is_constant = is_constant
        self._kernels: dict[str, ir.Function] = {}
        self._signatures: Counter = Counter()
        self.shared = 0  # kernels dropped for an identical earlier one
        #: Function name -> IR text of the kernels kept, printed here to compare them
        #: (module_parts.py prints the module with these instead of printing them again).
        self.printed: dict[str, str] = {}

    def expect(self, instructions: Iterable) -> None:
        """Count the signatures of instructions about to be emitted (every computation
        emitted into the module, before its kernels are finished)."""
        self._signatures.update(map(_signature, instructions))

    def finish(self, kernel: ir.Function, inst) -> tuple[ir.Function, list[ir.Value]]:
        """Call after `kernel`'s body (emitted for instruction `inst`, or None) is
        complete. Returns the function to call and the pointers to pass after the
        buffers: `kernel` itself or an identical earlier kernel, and the constant globals
        `kernel`'s body read when it may share."""
        if inst is None or self._signatures[_signature(inst)] < 2:
            return kernel, []  # no twin possible: it reads its globals directly
        if not all(block.is_terminated for block in kernel.blocks):
            return kernel, []  # called before its body was complete: never shared
        constants = self._constants(kernel)
        if constants:
            _parameterize(kernel, constants)
        text = str(kernel)
        if constants and any(c.get_reference() in text for c in constants):
            # Still read directly (from a constant expression): not shareable as it is.
            _unparameterize(kernel, constants)
            return kernel, []
        # Each rolled loop has a loop ID of its own (codegen.rolled_loop), all of them
        # alike: the key names none of them.
        key = _LOOP_ID.sub("!llvm.loop", text.replace(kernel.get_reference(), "@kernel", 1))
        earlier = self._kernels.get(key)
        if earlier is None:
            self._kernels[key] = kernel
            self.printed[kernel.name] = text
            return kernel, constants
        del self.module.globals[kernel.name]
        self.shared += 1
        return earlier, constants

    def _constants(self, kernel: ir.Function) -> list[ir.GlobalVariable]:
        """The constant globals `kernel`'s instructions use, in order of first use."""
        found: dict[int, ir.GlobalVariable] = {}
        for block in kernel.blocks:
            for instr in block.instructions:
                for value in instruction_operands(instr):
                    if isinstance(value, ir.GlobalVariable) and self.is_constant(value):
                        found.setdefault(id(value), value)
        return list(found.values())


def _signature(inst) -> tuple:
    """What two instructions whose kernels are identical have in common."""
    return (inst.opcode, inst.attrs.get("kind"), str(inst.shape),
            tuple(str(operand.shape) for operand in inst.operands))


def _parameterize(kernel: ir.Function, constants: list[ir.GlobalVariable]) -> None:
    """Append one pointer parameter per constant and read each constant through it."""
    params = []
    for i, constant in enumerate(constants):
        param = ir.Argument(kernel, PTR, name=f"constant.{i}")
        param.add_attribute("noalias")
        param.attributes.align = constant.align or 1
        param.attributes.dereferenceable = constant.value_type.count or 1
        params.append(param)
    at = _after_pointers(kernel)
    kernel.args = (*kernel.args[:at], *params, *kernel.args[at:])
    _set_type(kernel)
    _replace(kernel, dict(zip(map(id, constants), params)))


def _unparameterize(kernel: ir.Function, constants: list[ir.GlobalVariable]) -> None:
    """Undo `_parameterize`."""
    at = _after_pointers(kernel) - len(constants)
    params = kernel.args[at:at + len(constants)]
    kernel.args = (*kernel.args[:at], *kernel.args[at + len(constants):])
    _set_type(kernel)
    _replace(kernel, dict(zip(map(id, params), constants)))


def _after_pointers(kernel: ir.Function) -> int:
    """Where the constant parameters go: after the buffer pointers, before the task
    indices (so `tasks.run_tasks` passes them as buffers)."""
    at = 0
    while at < len(kernel.args) and kernel.args[at].type == PTR:
        at += 1
    return at


def _set_type(kernel: ir.Function) -> None:
    kernel.ftype = ir.FunctionType(kernel.ftype.return_type, [a.type for a in kernel.args])
    kernel.type = kernel.ftype.as_pointer()


def _replace(kernel: ir.Function, new: dict[int, ir.Value]) -> None:
    """Every use of a value whose id is a key of `new` in `kernel` becomes new[id]."""
    for block in kernel.blocks:
        for instr in block.instructions:
            for value in list(instruction_operands(instr)):
                if id(value) in new:
                    instr.replace_usage(value, new[id(value)])
                    if isinstance(instr, GEPInstr) and instr.pointer is value:
                        instr.pointer = new[id(value)]  # printed from its own attribute
