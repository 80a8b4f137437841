"""Big constants placed beside LLVM's code in an ELF object, never through LLVM IR text.

LLVM IR text spells a byte array as c"\\01\\02...", three characters a byte, which llvmlite
then encodes and LLVM parses into its own copy: a 100 MB weight costs over 1 GB on the
way to the object. Instead the emitter declares each big constant as an external hidden
global (so the code addresses it PC-relative, as it would a private one) and `ElfData`
appends a section holding the bytes to the object LLVM emitted, defining those symbols
in it. The bytes are copied once, into the final object.

Only ELF objects (Linux, the BSDs, bare-metal *-elf) are rewritten; `object_format`
tells the emitter when to use it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

__all__ = ["ElfData", "MIN_BYTES", "object_format"]

MIN_BYTES = 64 * 1024  # smaller constants stay in the IR, where LLVM may fold their loads
SECTION_NAME = b".rodata.aotc"

_SHT_SYMTAB, _SHT_PROGBITS = 2, 1
_SHF_ALLOC = 2
_SHN_UNDEF, _SHN_LORESERVE, _SHN_XINDEX = 0, 0xFF00, 0xFFFF
_STT_OBJECT = 1
_STV_HIDDEN = 2


def object_format(triple: str) -> str:
    """"elf", "macho", "coff" or "wasm": the object file format LLVM emits for `triple`."""
    parts = triple.lower().split("-")
    if any(p.startswith(("darwin", "macos", "ios", "tvos", "watchos")) for p in parts):
        return "macho"
    if any(p.startswith(("windows", "win32", "mingw", "cygwin", "uefi")) for p in parts):
        return "coff"
    if parts[0].startswith("wasm"):
        return "wasm"
    return "elf"


@dataclass
class _Layout:
    """struct formats of one ELF class and byte order."""

    endian: str
    is64: bool

    @property
    def header(self) -> struct.Struct:
        return struct.Struct(self.endian + ("16sHHIQQQIHHHHHH" if self.is64 else "16sHHIIIIIHHHHHH"))

    @property
    def section(self) -> struct.Struct:
        return struct.Struct(self.endian + ("IIQQQQIIQQ" if self.is64 else "IIIIIIIIII"))

    @property
    def symbol(self) -> struct.Struct:
        return struct.Struct(self.endian + ("IBBHQQ" if self.is64 else "IIIBBH"))

    def unpack_symbol(self, data, offset):
        """(name, info, other, shndx, value, size) in one order for both classes."""
        if self.is64:
            return self.symbol.unpack_from(data, offset)
        name, value, size, info, other, shndx = self.symbol.unpack_from(data, offset)
        return name, info, other, shndx, value, size

    def pack_symbol(self, data, offset, name, info, other, shndx, value, size) -> None:
        if self.is64:
            self.symbol.pack_into(data, offset, name, info, other, shndx, value, size)
        else:
            self.symbol.pack_into(data, offset, name, value, size, info, other, shndx)


@dataclass
class ElfData:
    """Constants to append to an ELF object as one read-only, 64-byte-aligned section."""

    symbol_prefix: str  # unique per object (the entry symbol), so objects link together
    align: int = 64
    blobs: list[tuple[str, memoryview]] = field(default_factory=list)

    def add(self, data: memoryview) -> str:
        """Take `data` (bytes, kept by reference, not copied); return the symbol to declare."""
        symbol = f"{self.symbol_prefix}.constant.{len(self.blobs)}"
        self.blobs.append((symbol, data))
        return symbol

    def attach(self, obj: bytes) -> bytes:
        """`obj` with a section holding every blob that `obj` refers to, whose undefined
        symbols now point into it."""
        if not self.blobs:
            return obj
        if obj[:4] != b"\x7fELF":
            raise ValueError("big constants were declared outside LLVM but the object is not ELF")
        layout = _Layout("<" if obj[5] == 1 else ">", obj[4] == 2)
        out = bytearray(obj)
        header = list(layout.header.unpack_from(out, 0))
        shoff, shentsize, shnum, shstrndx = header[6], header[11], header[12], header[13]
        sections = [list(layout.section.unpack_from(out, shoff + i * shentsize))
                    for i in range(shnum or layout.section.unpack_from(out, shoff)[5])]
        if shnum == 0 or shnum + 1 >= _SHN_LORESERVE or shstrndx == _SHN_XINDEX:
            raise ValueError("ELF object with extended section numbering")
        new_index = len(sections)
        placed = self._define_symbols(out, layout, sections, new_index)

        chunks: list = [out]
        size = len(out)

        def append(chunk, align=1):
            nonlocal size
            pad = -size % align
            chunks.append(b"\0" * pad)
            chunks.append(chunk)
            size += pad
            start = size
            size += len(chunk)
            return start

        data_offset = -size % self.align + size
        section_size = 0
        for blob, offset in placed:
            append(blob, self.align)
            section_size = offset + len(blob)
        old_names = sections[shstrndx]
        names = bytes(out[old_names[4]:old_names[4] + old_names[5]])
        new_names = append(names + SECTION_NAME + b"\0")
        old_names[4], old_names[5] = new_names, len(names) + len(SECTION_NAME) + 1
        sections.append([len(names), _SHT_PROGBITS, _SHF_ALLOC, 0, data_offset, section_size,
                         0, 0, self.align, 0])
        table = b"".join(layout.section.pack(*s) for s in sections)
        header[6] = append(table, 8)
        header[12] = len(sections)
        layout.header.pack_into(out, 0, *header)
        return b"".join(chunks)

    def _define_symbols(self, out: bytearray, layout: _Layout, sections, index: int):
        """Point each undefined blob symbol at its offset in section `index`; return the
        blobs that are referenced, with their offsets (the others are left out)."""
        symtab = next((s for s in sections if s[1] == _SHT_SYMTAB), None)
        if symtab is None:
            return []
        strtab = sections[symtab[6]]
        strings = bytes(out[strtab[4]:strtab[4] + strtab[5]])
        wanted = {symbol.encode(): blob for symbol, blob in self.blobs}
        placed, offset = [], 0
        for at in range(symtab[4], symtab[4] + symtab[5], layout.symbol.size):
            name, info, other, shndx, _, _ = layout.unpack_symbol(out, at)
            symbol = strings[name:strings.index(b"\0", name)]
            if shndx != _SHN_UNDEF or symbol not in wanted:
                continue
            blob = wanted.pop(symbol)
            offset += -offset % self.align
            # Hidden: LLVM leaves an undefined symbol's visibility default, and a defined
            # one must not be exported from (or preempted in) a shared library.
            layout.pack_symbol(out, at, name, (info & 0xF0) | _STT_OBJECT,
                               (other & ~0x3) | _STV_HIDDEN, index, offset, len(blob))
            placed.append((blob, offset))
            offset += len(blob)
        return placed
