"""64-bit ELF relocatable objects merged into one, as `ld -r` would: the objects LLVM emits
for the parts of one module (module_parts.py), so that the artifact stays one object file.

Sections of the same name, type, flags and entry size are concatenated (each input
aligned as it was); symbols keep their values, moved by their section's offset in the
merged one; an undefined symbol another object defines resolves to that definition; the
names in `internal` (functions and constants only made global so that the parts could
reach each other) become local symbols, as they would have been in one object; and every
relocation is moved with its section and renumbered to the merged symbol table (one
against a section symbol also adds its section's offset to the addend, which is why only
RELA objects are merged). Anything else (32-bit, REL relocations, section groups,
sections linked to others, extended section numbering) is left to the caller:
`merge_elf` returns None and the module is emitted as one object instead.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from .object_data.base import align_up
from .object_data import object_format
from .object_data.elf import ElfLayout

__all__ = ["can_merge", "merge_elf"]

#: Architectures whose objects are merged: 64-bit RELA, no sections that concatenation
#: would break (RISC-V's attributes section, for one, holds a single header).
MERGED_ARCHITECTURES = ("x86_64", "aarch64")

_SHT_NULL, _SHT_SYMTAB, _SHT_STRTAB, _SHT_RELA, _SHT_NOBITS = 0, 2, 3, 4, 8
_SHT_REL, _SHT_GROUP, _SHT_SYMTAB_SHNDX = 9, 17, 18
_SHT_LLVM_ADDRSIG = 0x6FFF4C03  # symbol indices for identical-code folding: dropped
_SHF_INFO_LINK = 0x40
_SHF_UNSUPPORTED = 0x80 | 0x200  # SHF_LINK_ORDER, SHF_GROUP
_SHN_UNDEF, _SHN_LORESERVE = 0, 0xFF00
_STB_LOCAL = 0
_STT_SECTION, _STT_FILE = 3, 4
_STV_DEFAULT = 0
_RELA = struct.Struct("<QQq")  # 64-bit: offset, info (symbol << 32 | type), addend
_UNSUPPORTED = {_SHT_REL, _SHT_GROUP, _SHT_SYMTAB_SHNDX}


@dataclass
class _Object:
    """One input object: its bytes, section headers and symbols."""

    data: bytes
    sections: list  # [name, type, flags, addr, offset, size, link, info, align, entsize]
    names: list[bytes]  # section names
    symbols: list  # (name, info, other, shndx, value, size)
    symbol_names: list[bytes]


@dataclass
class _Section:
    """A merged section: its header fields and its pieces' bytes."""

    name: bytes
    type: int
    flags: int
    entsize: int
    align: int = 1
    size: int = 0
    pieces: list = field(default_factory=list)  # (offset, bytes)

    def add(self, data: bytes, size: int, align: int) -> int:
        offset = align_up(self.size, max(align, 1))
        self.pieces.append((offset, data))
        self.size = offset + size
        self.align = max(self.align, align)
        return offset


def can_merge(triple: str) -> bool:
    """Whether objects for `triple` are merged here (ELF on MERGED_ARCHITECTURES)."""
    return object_format(triple) == "elf" and triple.split("-")[0] in MERGED_ARCHITECTURES


def _string(table: bytes, at: int) -> bytes:
    return table[at:table.index(b"\0", at)]


def _parse(data: bytes, layout: ElfLayout) -> _Object | None:
    header = layout.header.unpack_from(data, 0)
    shoff, shentsize, shnum, shstrndx = header[6], header[11], header[12], header[13]
    if shnum == 0 or shnum >= _SHN_LORESERVE or shstrndx >= _SHN_LORESERVE:
        return None
    sections = [list(layout.section.unpack_from(data, shoff + i * shentsize))
                for i in range(shnum)]
    if any(s[1] in _UNSUPPORTED or s[2] & _SHF_UNSUPPORTED
           or (s[6] and s[1] not in (_SHT_SYMTAB, _SHT_RELA)) for s in sections):
        return None  # sections that name other sections (sh_link) are not renumbered
    strings = data[sections[shstrndx][4]:sections[shstrndx][4] + sections[shstrndx][5]]
    names = [_string(strings, s[0]) for s in sections]
    symbols, symbol_names = [], []
    for symtab in (s for s in sections if s[1] == _SHT_SYMTAB):
        table = sections[symtab[6]]
        text = data[table[4]:table[4] + table[5]]
        for at in range(symtab[4], symtab[4] + symtab[5], layout.symbol.size):
            symbol = layout.unpack_symbol(data, at)
            symbols.append(symbol)
            symbol_names.append(_string(text, symbol[0]))
    return _Object(data, sections, names, symbols, symbol_names)


class _Strings:
    """A string table being built (offset 0: the empty string)."""

    def __init__(self):
        self.data = bytearray(b"\0")
        self.offsets: dict[bytes, int] = {b"": 0}

    def add(self, name: bytes) -> int:
        if name not in self.offsets:
            self.offsets[name] = len(self.data)
            self.data += name + b"\0"
        return self.offsets[name]


def merge_elf(objects: list[bytes], internal: set[str]) -> bytes | None:
    """One relocatable object holding `objects` (64-bit ELF RELA objects of one target),
    with the symbols named in `internal` made local; None if they cannot be merged so."""
    if not objects or any(o[:4] != b"\x7fELF" or o[4] != 2 for o in objects):
        return None
    layout = ElfLayout("<" if objects[0][5] == 1 else ">", True)
    if layout.endian != "<":
        return None
    parsed = [_parse(o, layout) for o in objects]
    if any(p is None for p in parsed):
        return None
    internal_names = {n.encode() for n in internal}

    # Sections: merged by (name, type, flags, entsize); placed[k][i] = (merged, offset).
    merged: dict[tuple, _Section] = {}
    placed: list[dict[int, tuple[_Section, int]]] = []
    for obj in parsed:
        where = {}
        for i, s in enumerate(obj.sections):
            if s[1] in (_SHT_NULL, _SHT_SYMTAB, _SHT_STRTAB, _SHT_RELA, _SHT_LLVM_ADDRSIG):
                continue
            key = (obj.names[i], s[1], s[2], s[9])
            out = merged.setdefault(key, _Section(obj.names[i], s[1], s[2], s[9]))
            data = b"" if s[1] == _SHT_NOBITS else obj.data[s[4]:s[4] + s[5]]
            where[i] = (out, out.add(data, s[5], s[8]))
        placed.append(where)
    order = list(merged.values())
    index_of = {id(s): 1 + i for i, s in enumerate(order)}  # section header indices

    # Symbols: locals first (section symbols, each object's locals, internalized
    # definitions), then globals, defined or not, in order of first appearance.
    locals_: list[tuple] = [(b"", 0, 0, 0, 0, 0)]
    section_symbol = {}
    for s in order:
        section_symbol[id(s)] = len(locals_)
        locals_.append((b"", _STT_SECTION, _STV_DEFAULT, index_of[id(s)], 0, 0))
    definitions: dict[bytes, tuple] = {}
    global_order: list[bytes] = []
    remap: list[dict[int, tuple[int | bytes, int]]] = []  # k -> symbol -> (new, addend)
    for k, obj in enumerate(parsed):
        mapping: dict[int, tuple] = {}
        for j, (_, info, other, shndx, value, size) in enumerate(obj.symbols):
            name = obj.symbol_names[j]
            kind, bind = info & 0xF, info >> 4
            moved = placed[k].get(shndx)
            if j == 0 or kind == _STT_FILE:
                continue
            if kind == _STT_SECTION:
                if moved is None:
                    continue
                mapping[j] = (section_symbol[id(moved[0])], moved[1])
            elif bind == _STB_LOCAL:
                if moved is None and 0 < shndx < _SHN_LORESERVE:
                    continue  # in a dropped section
                new_shndx = index_of[id(moved[0])] if moved else shndx
                mapping[j] = (len(locals_), 0)
                locals_.append((name, info, other, new_shndx,
                                value + (moved[1] if moved else 0), size))
            else:
                if name not in definitions and name not in global_order:
                    global_order.append(name)
                if shndx != _SHN_UNDEF:
                    if name in definitions:
                        return None  # defined twice
                    new_shndx = index_of[id(moved[0])] if moved else shndx
                    definitions[name] = (info, other, new_shndx,
                                         value + (moved[1] if moved else 0), size)
                mapping[j] = (name, 0)
        remap.append(mapping)
    if not internal_names <= set(definitions):
        return None
    named_index: dict[bytes, int] = {}
    for name in global_order:
        if name in internal_names:
            info, _, shndx, value, size = definitions[name]
            named_index[name] = len(locals_)
            locals_.append((name, (_STB_LOCAL << 4) | (info & 0xF), _STV_DEFAULT, shndx, value,
                            size))
    first_global = len(locals_)
    symbols = list(locals_)
    for name in global_order:
        if name in internal_names:
            continue
        named_index[name] = len(symbols)
        if name in definitions:
            info, other, shndx, value, size = definitions[name]
            symbols.append((name, info, other, shndx, value, size))
        else:
            info, other = next((sym[1], sym[2]) for obj in parsed
                               for sym, n in zip(obj.symbols, obj.symbol_names)
                               if n == name)
            symbols.append((name, info, other, _SHN_UNDEF, 0, 0))

    # Relocations, moved with their sections.
    relocations: dict[int, bytearray] = {}
    for k, obj in enumerate(parsed):
        for s in obj.sections:
            if s[1] != _SHT_RELA or s[7] not in placed[k]:
                continue
            target, base = placed[k][s[7]]
            out = relocations.setdefault(id(target), bytearray())
            for at in range(s[4], s[4] + s[5], _RELA.size):
                offset, info, addend = _RELA.unpack_from(obj.data, at)
                symbol, kind = info >> 32, info & 0xFFFFFFFF
                if symbol:
                    new, extra = remap[k][symbol]
                    symbol = named_index[new] if isinstance(new, bytes) else new
                    addend += extra
                out += _RELA.pack(offset + base, (symbol << 32) | kind, addend)
    return _write(parsed[0].data, layout, order, index_of, relocations, symbols, first_global)


def _write(first: bytes, layout: ElfLayout, order: list[_Section], index_of,
           relocations: dict[int, bytearray], symbols: list[tuple], first_global: int) -> bytes:
    """The merged object's bytes: header, section contents, then the tables."""
    section_names, symbol_names = _Strings(), _Strings()
    out = bytearray(layout.header.size)
    headers = [(0,) * 10]

    def place(data: bytes, align: int) -> int:
        out.extend(bytes(align_up(len(out), align) - len(out)))
        start = len(out)
        out.extend(data)
        return start

    for s in order:
        if s.type == _SHT_NOBITS:
            offset = align_up(len(out), s.align)
        else:
            blob = bytearray(s.size)
            for at, data in s.pieces:
                blob[at:at + len(data)] = data
            offset = place(bytes(blob), s.align)
        headers.append((section_names.add(s.name), s.type, s.flags, 0, offset, s.size,
                        0, 0, s.align, s.entsize))
    symtab_index = len(headers) + len(relocations)
    for s in order:
        if id(s) in relocations:
            data = bytes(relocations[id(s)])
            headers.append((section_names.add(b".rela" + s.name), _SHT_RELA, _SHF_INFO_LINK, 0,
                            place(data, 8), len(data), symtab_index, index_of[id(s)], 8,
                            _RELA.size))
    table = bytearray(layout.symbol.size * len(symbols))
    for i, (name, info, other, shndx, value, size) in enumerate(symbols):
        layout.pack_symbol(table, i * layout.symbol.size, symbol_names.add(name), info, other,
                           shndx, value, size)
    headers.append((section_names.add(b".symtab"), _SHT_SYMTAB, 0, 0, place(bytes(table), 8),
                    len(table), symtab_index + 1, first_global, 8, layout.symbol.size))
    headers.append((section_names.add(b".strtab"), _SHT_STRTAB, 0, 0,
                    place(bytes(symbol_names.data), 1), len(symbol_names.data), 0, 0, 1, 0))
    name_index = section_names.add(b".shstrtab")
    headers.append((name_index, _SHT_STRTAB, 0, 0, 0, 0, 0, 0, 1, 0))
    shstrtab_offset = place(bytes(section_names.data), 1)
    headers[-1] = (name_index, _SHT_STRTAB, 0, 0, shstrtab_offset, len(section_names.data),
                   0, 0, 1, 0)
    shoff = place(b"".join(layout.section.pack(*h) for h in headers), 8)
    header = list(layout.header.unpack_from(first, 0))
    header[6], header[12], header[13] = shoff, len(headers), len(headers) - 1
    layout.header.pack_into(out, 0, *header)
    return bytes(out)
