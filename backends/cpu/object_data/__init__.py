"""Big constants placed beside LLVM's code in the object file, never through LLVM IR text.

LLVM IR text spells a byte array as c"\\01\\02...", three characters a byte, which llvmlite
then encodes and LLVM parses into its own copy: a 100 MB weight costs over 1 GB on the
way to the object. Instead the emitter declares each big constant as an external hidden
global (so the code addresses it PC-relative, as it would a private one) and a writer for
the object format appends a read-only section holding the bytes to the object LLVM
emitted, defining those symbols in it. The bytes are copied once, into the final object.

One module per format, each a subclass of `ObjectData` (base.py), in `WRITERS`:

    elf.py    ELF, 32 and 64 bit, either byte order: a `.rodata.aotc` section
    macho.py  64-bit Mach-O (MH_OBJECT): a `__TEXT,__aotc_const` section
    coff.py   COFF (not bigobj): a `.rdata$aotc` section

`for_target` gives the writer for a triple, or None where big constants stay in the IR
(wasm, 32-bit Mach-O).
"""

from __future__ import annotations

from .base import ObjectData
from .coff import CoffData
from .elf import ElfData
from .macho import MachOData

__all__ = ["MIN_BYTES", "CoffData", "ElfData", "MachOData", "ObjectData", "WRITERS", "for_target",
           "object_format"]

MIN_BYTES = 64 * 1024  # smaller constants stay in the IR, where LLVM may fold their loads

#: Object format -> the writer of its big constants.
WRITERS: dict[str, type[ObjectData]] = {w.format: w for w in (ElfData, MachOData, CoffData)}


def object_format(triple: str) -> str:
    """"elf", "macho", "coff" or "wasm": the object file format LLVM emits for `triple`."""
    parts = triple.lower().split("-")
    if any(p.startswith(("darwin", "macos", "ios", "tvos", "watchos", "xros", "visionos"))
           for p in parts):
        return "macho"
    if any(p.startswith(("windows", "win32", "mingw", "cygwin", "uefi")) for p in parts):
        return "coff"
    if parts[0].startswith("wasm"):
        return "wasm"
    return "elf"


def for_target(triple: str, symbol_prefix: str) -> ObjectData | None:
    """The writer of big constants for objects of `triple`, naming its symbols after
    `symbol_prefix`; None when they must go through the IR."""
    writer = WRITERS.get(object_format(triple))
    return writer(symbol_prefix) if writer is not None and writer.supports(triple) else None
