"""LLVM in parts: the module's functions cut into parts that forked processes print,
parse, optimize and emit side by side, and beside the Python emitter.

Printing llvmlite's IR as text, LLVM's O3 pipeline and object emission take most of a
big model's compile, and all of them work one function at a time (the kernels are
`noinline`, tasks.py), so they split well; XLA's CPU backend splits its module the same
way for parallel code generation. `PartPipeline` cuts the kernels the emitter has
completed into a part every CHUNK_INSTRUCTIONS, compiled at once while Python goes on
emitting, and the rest into parts of similar instruction counts once it is done. The
parts' objects are merged into one (elf_merge.py) where the format allows; elsewhere
their optimized bitcode is linked into one module, emitted once. Either way the
artifact is one object file.

The cut depends only on the module and the order it was emitted in, never on the
host's cores, so every host emits the same object for the same graph; fewer cores only
run the parts one after another. Each part holds:

- its functions' definitions, and declarations of the functions they call in other parts
  (a function called across parts, or defined in an early part, is hidden-external while
  the parts are apart, and local again in the merged object or linked module);
- the small constant globals its functions read, as private copies, so that LLVM can
  still fold loads from them; a bigger one is defined in the first part that reads it and
  declared in the others.

Parts run in processes forked from the compiler (copy-on-write: nothing is pickled) where
that is safe (Linux, no other thread); elsewhere, one after another in this process.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import select
import signal
import struct
import sys
import tempfile
import threading
import traceback
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import llvmlite.binding as llvm
import llvmlite.ir as ir

from .elf_merge import can_merge, merge_elf
from .llvm_types import instruction_operands

__all__ = ["CompiledParts", "PartCode", "PartPipeline", "PartPlan", "WholeModule", "plan_parts"]

#: Instructions per part: below two parts' worth the module stays whole (forking, parsing
#: the declarations and linking cost more than they save on a small module).
PART_INSTRUCTIONS = 300

#: Instructions of completed functions that make a part while the module is still being
#: emitted (PartPipeline.advance).
CHUNK_INSTRUCTIONS = 1000

#: At most this many early parts; a module still being emitted after them is cut at the
#: end. Bounds the claims PartPipeline._drain writes into its pipe at once (4 bytes a
#: part, within PIPE_BUF: one write, before any reader, never blocks).
MAX_EARLY_PARTS = 256

#: At most this many parts in the last cut. Each costs its declarations' parsing and a
#: merge, but more parts than cores balance better: the cores take them one at a time.
MAX_PARTS = 16

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
    plan = PartPlan(0)
    if not _cuttable(module):
        plan.parts = 1
        return plan
    _add_parts(plan, module, [f for f in module.functions if not f.is_declaration],
               target_data, MAX_PARTS)
    return plan


def _cuttable(module: ir.Module) -> bool:
    """False when a global's initializer may name other symbols (kept whole then)."""
    return not any(_holds_pointers(g) for g in module.global_values
                   if isinstance(g, ir.GlobalVariable) and g.initializer is not None)


def _size(function: ir.Function) -> int:
    return sum(len(block.instructions) for block in function.blocks)


def _add_parts(plan: PartPlan, module: ir.Module, functions: list[ir.Function], target_data,
               most: int, export_all: bool = False) -> None:
    """Cut `functions` into new parts of `plan` (one per PART_INSTRUCTIONS, 1 to `most`),
    and record what they read and what crosses parts; `export_all`: every function and
    big global they define may be read by parts cut later (made hidden-external)."""
    sizes = {f.name: _size(f) for f in functions}
    count = max(1, min(most, sum(sizes.values()) // PART_INSTRUCTIONS))
    first = plan.parts
    plan.parts += count
    load = [0] * count
    for f in sorted(functions, key=lambda f: -sizes[f.name]):  # stable: module order on ties
        part = load.index(min(load))
        plan.function_part[f.name] = first + part
        load[part] += sizes[f.name]
    for f in functions:
        part = plan.function_part[f.name]
        if export_all:
            plan.exported.setdefault(f.name, f.linkage)
        for name in _references(f):
            value = module.globals[name]
            if isinstance(value, ir.GlobalVariable) and value.initializer is not None:
                readers = plan.global_parts.setdefault(name, set())
                if not readers and value.global_constant \
                        and value.value_type.get_abi_size(target_data) <= COPY_BYTES:
                    plan.copied.add(name)
                readers.add(part)
                if name not in plan.copied and (len(readers) > 1 or export_all):
                    plan.exported.setdefault(name, value.linkage)
            elif plan.function_part.get(name, part) != part:
                plan.exported.setdefault(name, value.linkage)
    if not export_all:  # the last cut: globals no function reads go to its first part
        for value in module.global_values:
            if isinstance(value, ir.GlobalVariable) and value.initializer is not None:
                plan.global_parts.setdefault(value.name, {first})


def _holds_pointers(var: ir.GlobalVariable) -> bool:
    return "ptr" in str(var.value_type) or "*" in str(var.value_type)


def _references(function: ir.Function) -> set[str]:
    """Names of the global values `function`'s instructions use (constant expressions,
    which llvmlite keeps as text, included)."""
    names: set[str] = set()
    for block in function.blocks:
        for instr in block.instructions:
            for value in instruction_operands(instr):
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
        _forget_text(value)

    kept = {}
    for name, value in everything.items():
        if isinstance(value, ir.Function) and not value.is_declaration:
            if plan.function_part.get(name) != part:  # another part's, or not cut yet
                change(value, "blocks", [])
                change(value, "linkage", "hidden")  # llvmlite prints it where LLVM reads it
            elif name in printed:
                value = _Printed(printed[name], exported=name in plan.exported)
            elif name in plan.exported:
                change(value, "linkage", "hidden")
        elif isinstance(value, ir.GlobalVariable) and value.initializer is not None:
            if part not in plan.global_parts.get(name, ()):
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
            _forget_text(value)


def _forget_text(value) -> None:
    """Drop the text llvmlite caches for a global variable (it prints each once): the
    parts print the same global as a definition or as a declaration."""
    clear = getattr(value, "_clear_string_cache", None)
    if clear is not None:
        clear()


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


def _can_fork() -> bool:
    """Whether parts may run in forked processes: on Linux, with no other thread that
    could hold a lock of LLVM's or the allocator's at the fork."""
    return sys.platform.startswith("linux") and threading.active_count() == 1


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


class PartPipeline:
    """Cuts a module into parts while the backend is still emitting it.

    The emitter calls `advance` after each HLO instruction: once the functions completed
    since the last cut hold CHUNK_INSTRUCTIONS, they become a part of their own (every
    function and big constant in it hidden-external, as parts cut later may call or read
    them), queued for forked processes, at most one per core but one while the emitter
    runs (every part waits for the emitter, so it keeps its core). `finish` cuts what
    remains into parts as `plan_parts` would and compiles the queue on every core, this
    process included. The cut depends only on the module and the order it was emitted
    in; where forking is not safe the same parts compile one after another in this
    process.
    """

    def __init__(self, module: ir.Module, machine, optimize: Callable[[llvm.ModuleRef], None],
                 printed: dict[str, str]):
        self.module = module
        self.machine = machine
        self.optimize = optimize
        self.printed = printed
        self.emitter = machine if can_merge(module.triple) else None
        self.plan = PartPlan(0)
        self.fork = _can_fork()
        self.cores = len(os.sched_getaffinity(0)) if self.fork else 1
        self.children: list[_Child] = []
        self.queue: list[int] = []  # parts cut, not compiled or started yet
        self.codes: dict[int, PartCode] = {}
        self.sizes: dict[str, int] = {}  # functions cut into early parts: their sizes

    def advance(self, open_functions=()) -> None:
        """Cut the functions completed so far (all defined ones but `open_functions`) into
        a part once they hold CHUNK_INSTRUCTIONS."""
        done = [f for f in self.module.functions if f.blocks and f not in open_functions
                and f.name not in self.plan.function_part]
        if self.plan.parts >= MAX_EARLY_PARTS or sum(map(_size, done)) < CHUNK_INSTRUCTIONS \
                or not _cuttable(self.module):
            return
        part = self.plan.parts
        _add_parts(self.plan, self.module, done, self.machine.target_data, 1, export_all=True)
        self.sizes.update((f.name, _size(f)) for f in done)
        self.queue.append(part)
        self._dispatch(self.cores - 1)  # the emitter keeps a core: every part waits for it

    def finish(self) -> CompiledParts | WholeModule:
        """Cut the rest, compile every part not compiled yet and wait for all of them."""
        target_data = self.machine.target_data
        try:
            if self.plan.parts == 0:  # no early part: the module cut as a whole
                self.plan = plan_parts(self.module, target_data)
                if self.plan.parts == 1:
                    return self._whole()
                pending = list(range(self.plan.parts))
            else:
                self._check_unchanged()
                first = self.plan.parts
                rest = [f for f in self.module.functions
                        if f.blocks and f.name not in self.plan.function_part]
                _add_parts(self.plan, self.module, rest, target_data, MAX_PARTS)
                pending = list(range(first, self.plan.parts))
            self.queue.extend(pending)
            self._drain()
        finally:
            self.close()  # after a failure: stop the others
        return CompiledParts(self.plan, [self.codes[p] for p in range(self.plan.parts)],
                             self.machine)

    def _drain(self) -> None:
        """Compile the queue on every core: the parts go, largest first, into a pipe that
        this process and cores-1 forked workers take them from one at a time, so a core
        that finishes early takes the next part (the parts' costs vary several-fold for
        the same instruction count)."""
        sizes = self._part_sizes()
        order = sorted(self.queue, key=lambda part: -sizes[part])
        self.queue.clear()
        if not self.fork:
            for part in order:
                self.codes[part] = self._compile(part)
            return
        read, write = os.pipe()
        try:
            claims = b"".join(_CLAIM.pack(part) for part in order)
            assert len(claims) <= select.PIPE_BUF  # MAX_EARLY_PARTS + MAX_PARTS claims
            os.write(write, claims)
            os.close(write)
            write = -1
            # Workers may overlap early parts still compiling: the kernel shares the cores.
            for _ in range(min(self.cores - 1, len(order) - 1)):
                self.children.append(_fork(self._compile, _claimed(read)))
            for part in _claimed(read):
                self.codes[part] = self._compile(part)
            while self.children:
                self.codes.update(_collect(self.children.pop(0)))
        finally:
            os.close(read)
            if write >= 0:
                os.close(write)

    def _part_sizes(self) -> dict[int, int]:
        sizes = dict.fromkeys(range(self.plan.parts), 0)
        for name, part in self.plan.function_part.items():
            sizes[part] += _size(self.module.globals[name])  # early parts: unchanged
        return sizes

    def close(self) -> None:
        """Stop the processes still compiling parts (their results are not wanted)."""
        while self.children:
            _stop(self.children.pop())

    def __enter__(self) -> "PartPipeline":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _whole(self) -> WholeModule:
        parsed = llvm.parse_assembly(str(self.module))
        parsed.triple = self.module.triple
        parsed.verify()
        self.optimize(parsed)
        return WholeModule(parsed, self.machine)

    def _compile(self, part: int) -> PartCode:
        return _compile_part(self.module, self.plan, part, self.printed, self.optimize,
                             self.emitter)

    def _dispatch(self, processes: int) -> None:
        """Reap the children that are done, then start queued parts in children while fewer
        than `processes` run (or, where forking is unsafe, compile them here, now)."""
        if not self.fork:
            while self.queue:
                part = self.queue.pop(0)
                self.codes[part] = self._compile(part)
            return
        for child in [c for c in self.children if _finished(c)]:
            self.children.remove(child)
            self.codes.update(_collect(child))
        while self.queue and len(self.children) < processes:
            self.children.append(_fork(self._compile, [self.queue.pop(0)]))

    def _check_unchanged(self) -> None:
        """The functions of early parts must not change after their cut (they were
        compiled as they were then)."""
        for name, size in self.sizes.items():
            if _size(self.module.globals[name]) != size:
                raise AssertionError(f"{name} changed after its part was compiled")


@dataclass
class _Child:
    pid: int
    path: str  # the file it writes its parts to
    status: int | None = None  # its exit status, once reaped


_FRAME = struct.Struct("<qqq")  # part (-1: failure), object bytes, bitcode bytes
_CLAIM = struct.Struct("<i")  # a part number in PartPipeline._drain's pipe


def _claimed(read_fd: int) -> Iterator[int]:
    """The parts this process takes from the pipe, one at a time, until it is empty
    (every claim was written at once, so each read gets a whole one)."""
    while claim := os.read(read_fd, _CLAIM.size):
        yield _CLAIM.unpack(claim)[0]


def _fork(compile_part: Callable[[int], PartCode], parts: Iterable[int]) -> _Child:
    """A forked process that compiles `parts` (iterated in the child) and writes each to
    a temporary file: a _FRAME, then its object and bitcode; on failure a frame of part
    -1 and the traceback's text. (A file, not a pipe: the child finishes without waiting
    for the parent, which is busy emitting.)"""
    fd, path = tempfile.mkstemp(prefix="aotc-part-")
    pid = os.fork()
    if pid:
        os.close(fd)
        return _Child(pid, path)
    status = 0
    # A collection would walk (and so copy, page by page) the parent's objects, which
    # the child only reads; the child lives for a few parts.
    gc.disable()
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                for part in parts:
                    code = compile_part(part)
                    out.write(_FRAME.pack(part, len(code.object_code), len(code.bitcode)))
                    out.write(code.object_code)
                    out.write(code.bitcode)
            except BaseException:  # noqa: BLE001 - reported by the parent
                message = traceback.format_exc().encode()
                out.write(_FRAME.pack(-1, len(message), 0) + message)
                status = 1
    finally:
        os._exit(status)


def _finished(child: _Child) -> bool:
    """Whether `child` has exited (it is then reaped: `_collect` must not wait again)."""
    pid, status = os.waitpid(child.pid, os.WNOHANG)
    if pid:
        child.status = status
    return bool(pid)


def _stop(child: _Child) -> None:
    os.kill(child.pid, signal.SIGKILL)
    os.waitpid(child.pid, 0)
    os.unlink(child.path)


def _collect(child: _Child) -> dict[int, PartCode]:
    """The parts a child compiled (the child reaped, its file removed); raises
    RuntimeError if it failed."""
    status = child.status if child.status is not None else os.waitpid(child.pid, 0)[1]
    with open(child.path, "rb") as file:
        data = file.read()
    os.unlink(child.path)
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
