"""Big constants appended to an ELF relocatable object (32 or 64 bit, either byte order):
a `.rodata.aotc` section (SHT_PROGBITS, SHF_ALLOC) after LLVM's sections, its bytes and
the new section header table at the end of the file; each referenced undefined symbol
becomes a hidden STT_OBJECT defined in it. Relocations are left as LLVM wrote them."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .base import ObjectData, align_up

__all__ = ["ElfData", "ElfLayout", "SECTION_NAME"]

SECTION_NAME = b".rodata.aotc"

_SHT_SYMTAB, _SHT_PROGBITS = 2, 1
_SHF_ALLOC = 2
_SHN_UNDEF, _SHN_LORESERVE, _SHN_XINDEX = 0, 0xFF00, 0xFFFF
_STT_OBJECT = 1
_STV_HIDDEN = 2


@dataclass
class ElfLayout:
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


class ElfData(ObjectData):
    """Constants appended to an ELF object as one read-only, aligned section."""

    format = "elf"

    def _attach(self, obj: bytes) -> bytes:
        if obj[:4] != b"\x7fELF":
            raise ValueError("big constants were declared outside LLVM but the object is not ELF")
        layout = ElfLayout("<" if obj[5] == 1 else ">", obj[4] == 2)
        out = bytearray(obj)
        header = list(layout.header.unpack_from(out, 0))
        shoff, shentsize, shnum, shstrndx = header[6], header[11], header[12], header[13]
        if shnum == 0 or shnum + 1 >= _SHN_LORESERVE or shstrndx == _SHN_XINDEX:
            raise ValueError("ELF object with extended section numbering")
        sections = [list(layout.section.unpack_from(out, shoff + i * shentsize))
                    for i in range(shnum)]
        placement = self._define_symbols(out, layout, sections, len(sections))

        chunks: list = [out]
        size = len(out)

        def append(chunk, align=1):
            nonlocal size
            pad = align_up(size, align) - size
            chunks.append(bytes(pad))
            chunks.append(chunk)
            size += pad
            start = size
            size += len(chunk)
            return start

        data_offset = align_up(size, self.align)
        for chunk in placement.chunks:
            append(chunk, self.align if chunk is placement.chunks[0] else 1)
        old_names = sections[shstrndx]
        names = bytes(out[old_names[4]:old_names[4] + old_names[5]])
        new_names = append(names + SECTION_NAME + b"\0")
        old_names[4], old_names[5] = new_names, len(names) + len(SECTION_NAME) + 1
        sections.append([len(names), _SHT_PROGBITS, _SHF_ALLOC, 0, data_offset, placement.size,
                         0, 0, self.align, 0])
        table = b"".join(layout.section.pack(*s) for s in sections)
        header[6] = append(table, 8)
        header[12] = len(sections)
        layout.header.pack_into(out, 0, *header)
        return b"".join(chunks)

    def _define_symbols(self, out: bytearray, layout: ElfLayout, sections, index: int):
        """Point each undefined blob symbol at its offset in section `index`; returns the
        placement of the blobs referenced (the others are left out)."""
        symtab = next((s for s in sections if s[1] == _SHT_SYMTAB), None)
        if symtab is None:
            return self._place(set())
        strtab = sections[symtab[6]]
        strings = bytes(out[strtab[4]:strtab[4] + strtab[5]])
        wanted = {symbol.encode(): symbol for symbol, _ in self.blobs}
        found = {}
        for at in range(symtab[4], symtab[4] + symtab[5], layout.symbol.size):
            name, _, _, shndx, _, _ = layout.unpack_symbol(out, at)
            symbol = strings[name:strings.index(b"\0", name)]
            if shndx == _SHN_UNDEF and symbol in wanted:
                found[wanted[symbol]] = at
        placement = self._place(found)
        for symbol, at in found.items():
            name, info, other, _, _, _ = layout.unpack_symbol(out, at)
            # Hidden: LLVM leaves an undefined symbol's visibility default, and a defined
            # one must not be exported from (or preempted in) a shared library.
            layout.pack_symbol(out, at, name, (info & 0xF0) | _STT_OBJECT,
                               (other & ~0x3) | _STV_HIDDEN, index, placement.offsets[symbol],
                               placement.sizes[symbol])
        return placement
