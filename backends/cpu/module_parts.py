"""LLVM optimization in parts: the module's functions cut into parts that forked processes
print, parse and optimize side by side, then linked back into one module.

Printing llvmlite's IR as text and LLVM's O3 pipeline take most of a big model's compile
and both work one function at a time (the kernels are `noinline`, tasks.py), so they
split well. XLA's CPU backend splits its module the same way for parallel code
generation. Object emission stays one step on the linked module: the artifact is one
object file.

The cut depends only on the module (its instruction count), never on the host's cores,
so every host emits the same object for the same graph; fewer cores only run the parts
one after another. Each part holds:

- its functions' definitions, and declarations of the functions they call in other parts
  (a function called across parts is made external for the optimization; it is made
  internal again once the parts are linked, before the object is emitted);
- the small constant globals its functions read, as private copies, so that LLVM can
  still fold loads from them; a bigger one is defined in the first part that reads it and
  declared in the others.

Parts run in processes forked from the compiler (copy-on-write: nothing is pickled) where
the platform forks safely (Linux); elsewhere, one after another in this process.
"""

from __future__ import annotations

import contextlib
import os
import re
import struct
import signal
import sys
import threading
import traceback
from dataclasses import dataclass, field
from typing import Callable, Iterator

import llvmlite.binding as llvm
import llvmlite.ir as ir

from .elf_merge import can_merge, merge_elf

__all__ = ["CompiledParts", "PartCode", "PartPlan", "WholeModule", "optimize_in_parts", "plan_parts"]

#: Instructions per part: below two parts' worth the module stays whole (forking, parsing
#: the declarations and linking cost more than they save on a small module).
PART_INSTRUCTIONS = 1500

#: At most this many parts (each costs a process and a link; more only pays on hosts
#: with more cores than the 2-4 this is tuned for).
MAX_PARTS = 4

#: Constant globals up to this size are copied into every part that reads them, so that
#: LLVM can fold loads from them (a declaration hides the values).
COPY_BYTES = 4096

_SYMBOL = re.compile(r'@("(?:[^"\\]|\\.)*"|[-a-zA-Z$._][-a-zA-Z$._0-9]*)')


@dataclass
class PartPlan:
    """Which part defines each function and global, and what crosses parts."""

    parts: int
    function_part: dict[str, int] = field(default_factory=dict)  # defined functions
    global_parts: dict[str, set[int]] = field(default_factory=dict)  # defined globals: readers
    copied: set[str] = field(default_factory=set)  # small globals each reader defines
    exported: dict[str, str] = field(default_factory=dict)  # name -> its original linkage

    def global_owner(self, name: str) -> int:
        """The part that defines global `name` (the first that reads it)."""
        return min(self.global_parts[name], default=0)


def plan_parts(module: ir.Module, target_data) -> PartPlan:
    """Cut `module`'s defined functions into parts of similar instruction counts (largest
    first, each to the lightest part: deterministic) and find what crosses parts."""
    functions = [f for f in module.functions if not f.is_declaration]
    if any(_holds_pointers(g) for g in module.global_values
           if isinstance(g, ir.GlobalVariable) and g.initializer is not None):
        return PartPlan(1)  # an initializer may name other symbols: keep it whole
    sizes = {f.name: sum(len(b.instructions) for b in f.blocks) for f in functions}
    parts = max(1, min(MAX_PARTS, sum(sizes.values()) // PART_INSTRUCTIONS))
    plan = PartPlan(parts)
    if parts == 1:
        return plan
    load = [0] * parts
    for f in sorted(functions, key=lambda f: -sizes[f.name]):  # stable: module order on ties
        part = load.index(min(load))
        plan.function_part[f.name] = part
        load[part] += sizes[f.name]
    defined = {g.name: g for g in module.global_values
               if isinstance(g, ir.GlobalVariable) and g.initializer is not None}
    plan.global_parts = {name: set() for name in defined}
    for f in functions:
        part = plan.function_part[f.name]
        for name in _references(f):
            if name in plan.global_parts:
                plan.global_parts[name].add(part)
            elif plan.function_part.get(name, part) != part:
                plan.exported.setdefault(name, module.globals[name].linkage)
    for name, readers in plan.global_parts.items():
        var = defined[name]
        if not readers:
            readers.add(0)  # read by no function: part 0 keeps it all the same
        if var.global_constant and var.value_type.get_abi_size(target_data) <= COPY_BYTES:
            plan.copied.add(name)
        elif len(readers) > 1:
            plan.exported[name] = var.linkage
    return plan


def _holds_pointers(var: ir.GlobalVariable) -> bool:
    return "ptr" in str(var.value_type) or "*" in str(var.value_type)


def _references(function: ir.Function) -> set[str]:
    """Names of the global values `function`'s instructions use (constant expressions,
    which llvmlite keeps as text, included)."""
    names: set[str] = set()
    for block in function.blocks:
        for instr in block.instructions:
            operands = [v for v, _ in instr.incomings] if isinstance(instr, ir.PhiInstr) \
                else instr.operands
            for value in operands:
                if isinstance(value, ir.GlobalValue):
                    names.add(value.name)
                elif isinstance(value, ir.FormattedConstant):
                    names.update(_unquote(m) for m in _SYMBOL.findall(value.get_reference()))
    return names


def _unquote(symbol: str) -> str:
    return symbol[1:-1] if symbol.startswith('"') else symbol


@contextlib.contextmanager
def _as_part(module: ir.Module, plan: PartPlan, part: int,
             printed: dict[str, str]) -> Iterator[None]:
    """Within the block `module` prints as part `part` (restored on exit): other parts'
    functions are declarations; of the defined globals, it keeps the ones its functions
    read, as declarations where another part defines them; what crosses parts is
    external. Functions in `printed` (name -> IR text) print as that text."""
    everything = dict(module.globals)
    saved = []

    def change(value, attribute, new):
        saved.append((value, attribute, getattr(value, attribute)))
        setattr(value, attribute, new)

    kept = {}
    for name, value in everything.items():
        if isinstance(value, ir.Function) and not value.is_declaration:
            if plan.function_part[name] != part:
                change(value, "blocks", [])
                change(value, "linkage", "hidden")  # llvmlite prints it where LLVM reads it
            elif name in printed:
                value = _Printed(printed[name], exported=name in plan.exported)
            elif name in plan.exported:
                change(value, "linkage", "hidden")
        elif isinstance(value, ir.GlobalVariable) and value.initializer is not None:
            if part not in plan.global_parts[name]:
                continue  # not read here
            if name not in plan.copied and plan.global_owner(name) != part:
                change(value, "initializer", None)
                change(value, "linkage", "")
                change(value, "storage_class", "hidden")
            elif name in plan.exported:
                change(value, "linkage", "")
                change(value, "storage_class", "hidden")
        kept[name] = value
    module.globals.clear()
    module.globals.update(kept)
    try:
        yield
    finally:
        module.globals.clear()
        module.globals.update(everything)
        for value, attribute, old in reversed(saved):
            setattr(value, attribute, old)


class _Printed:
    """Stands in for a function whose text is known (llvmlite prints a module's globals
    with str())."""

    def __init__(self, text: str, exported: bool):
        internal = "define internal "
        assert text.startswith(internal), text[:80]
        self.text = "define hidden " + text[len(internal):] if exported else text

    def __str__(self) -> str:
        return self.text


@dataclass
class PartCode:
    """What one part compiles to: its object (when the parts' objects are merged) and its
    optimized bitcode (linked for IR dumps, or emitted as one object when they are not)."""

    object_code: bytes
    bitcode: bytes


def _compile_part(module: ir.Module, plan: PartPlan, part: int, printed: dict[str, str],
                  optimize: Callable[[llvm.ModuleRef], None], machine) -> PartCode:
    """Print, parse and optimize part `part`, and emit its object if `machine` is given."""
    with _as_part(module, plan, part, printed):
        text = str(module)
    parsed = llvm.parse_assembly(text)
    parsed.triple = module.triple
    parsed.verify()
    optimize(parsed)
    return PartCode(machine.emit_object(parsed) if machine is not None else b"",
                    parsed.as_bitcode())


def _workers(parts: int) -> int:
    """Processes to run `parts` parts in: one per core, where forking is safe (Linux, and
    no other thread that could hold a lock of LLVM's or the allocator's at the fork)."""
    if not sys.platform.startswith("linux") or parts == 1 or threading.active_count() > 1:
        return 1
    cores = len(os.sched_getaffinity(0))
    return max(1, min(parts, cores))


class CompiledParts:
    """The optimized parts of a module: one object file and the optimized LLVM module,
    each made on demand (`object_code`, `module`)."""

    def __init__(self, plan: PartPlan, codes: list[PartCode], machine):
        self.plan = plan
        self.codes = codes
        self.machine = machine
        self._module: llvm.ModuleRef | None = None

    def object_code(self) -> bytes:
        """The parts' objects merged into one where the format allows (elf_merge.py), else
        the linked module emitted as one object."""
        if all(code.object_code for code in self.codes):
            merged = merge_elf([code.object_code for code in self.codes], set(self.plan.exported))
            if merged is not None:
                return merged
        return self.machine.emit_object(self.module())

    def module(self) -> llvm.ModuleRef:
        """The parts' optimized bitcode linked into one module, with the linkage and
        visibility each crossing symbol had before the cut."""
        if self._module is None:
            linked = llvm.parse_bitcode(self.codes[0].bitcode)
            for code in self.codes[1:]:
                linked.link_in(llvm.parse_bitcode(code.bitcode))
            for name, linkage in self.plan.exported.items():
                value = linked.get_function(name) if name in self.plan.function_part \
                    else linked.get_global_variable(name)
                value.visibility = "default"
                value.linkage = linkage or "external"
            self._module = linked
        return self._module


class WholeModule:
    """A module too small to cut: parsed and optimized in this process (the interface
    of CompiledParts)."""

    def __init__(self, parsed: llvm.ModuleRef, machine):
        self.parsed = parsed
        self.machine = machine

    def object_code(self) -> bytes:
        return self.machine.emit_object(self.parsed)

    def module(self) -> llvm.ModuleRef:
        return self.parsed


def optimize_in_parts(module: ir.Module, machine,
                      optimize: Callable[[llvm.ModuleRef], None],
                      printed: dict[str, str] | None = None) -> CompiledParts | WholeModule:
    """`module` printed, parsed, verified and optimized by `optimize`, in parts where it is
    big enough (module docstring); on targets whose objects elf_merge.py merges, each part
    also emits its object with `machine`. `printed` (function name -> IR text) holds
    functions already printed, as they are."""
    plan = plan_parts(module, machine.target_data)
    if plan.parts == 1:
        parsed = llvm.parse_assembly(str(module))
        parsed.triple = module.triple
        parsed.verify()
        optimize(parsed)
        return WholeModule(parsed, machine)
    printed = printed or {}
    emitter = machine if can_merge(module.triple) else None
    workers = _workers(plan.parts)
    children = []
    try:
        for w in range(1, workers):
            children.append(_fork(module, plan, range(w, plan.parts, workers), printed,
                                  optimize, emitter))
        codes = {part: _compile_part(module, plan, part, printed, optimize, emitter)
                 for part in range(0, plan.parts, workers)}
        while children:
            codes.update(_collect(children.pop(0)))
    finally:
        for child in children:  # after a failure here or in a child: stop the others
            os.kill(child.pid, signal.SIGKILL)
            os.close(child.pipe)
            os.waitpid(child.pid, 0)
    return CompiledParts(plan, [codes[part] for part in range(plan.parts)], machine)


@dataclass
class _Child:
    pid: int
    pipe: int


_FRAME = struct.Struct("<qqq")  # part (-1: failure), object bytes, bitcode bytes


def _fork(module, plan, parts, printed, optimize, machine) -> _Child:
    """A forked process that compiles `parts` and writes each to a pipe: a _FRAME, then
    its object and bitcode; on failure a frame of part -1 and the traceback's text."""
    read, write = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write)
        return _Child(pid, read)
    status = 0
    try:
        os.close(read)
        with os.fdopen(write, "wb") as out:
            try:
                for part in parts:
                    code = _compile_part(module, plan, part, printed, optimize, machine)
                    out.write(_FRAME.pack(part, len(code.object_code), len(code.bitcode)))
                    out.write(code.object_code)
                    out.write(code.bitcode)
            except BaseException:  # noqa: BLE001 - reported by the parent
                message = traceback.format_exc().encode()
                out.write(_FRAME.pack(-1, len(message), 0) + message)
                status = 1
    finally:
        os._exit(status)


def _collect(child: _Child) -> dict[int, PartCode]:
    """The parts a child compiled (the child reaped, its pipe closed); raises RuntimeError
    if it failed."""
    with os.fdopen(child.pipe, "rb", closefd=False) as pipe:
        data = pipe.read()
    os.close(child.pipe)
    _, status = os.waitpid(child.pid, 0)
    result, at = {}, 0
    while at + _FRAME.size <= len(data):
        part, objects, bitcode = _FRAME.unpack_from(data, at)
        at += _FRAME.size
        if part < 0:
            raise RuntimeError("LLVM optimization failed in a worker process:\n"
                               + data[at:at + objects].decode(errors="replace"))
        result[part] = PartCode(data[at:at + objects], data[at + objects:at + objects + bitcode])
        at += objects + bitcode
    if status != 0 or at != len(data):
        raise RuntimeError(f"an LLVM optimization worker exited with status {status}")
    return result
