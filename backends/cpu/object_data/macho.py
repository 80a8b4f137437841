"""Big constants appended to a 64-bit Mach-O relocatable object (MH_OBJECT), as
<mach-o/loader.h> and <mach-o/nlist.h> lay it out.

An object has one unnamed LC_SEGMENT_64 whose section headers follow it, the sections'
bytes after the load commands, then relocations, symbols and strings. The rewrite:

- a section header `__TEXT,__aotc_const` (S_REGULAR, 2^6 alignment) is added to the
  segment, so the load commands grow by 80 bytes and everything after them moves by as
  much; the section's address follows the segment's last one (sections keep their
  addresses and ordinals, so section-relative relocations stay right) and its bytes follow
  the segment's, extending its vmsize and filesize;
- each referenced undefined symbol (`_` + the IR name) becomes N_SECT | N_EXT | N_PEXT
  (private extern: the linker binds it within the image, never exports it), its n_value
  the blob's address;
- the symbol table keeps LC_DYSYMTAB's grouping (locals, defined externals, undefined
  externals, each of the last two sorted by name, as LLVM writes them), so the new
  definitions move into the second group; extern relocations and indirect symbol entries
  are renumbered to match. Relocations stay symbol-relative: their symbols are defined now.
"""

from __future__ import annotations

import struct

from .base import ObjectData, align_up

__all__ = ["MachOData", "SECTION_NAME", "SEGMENT_NAME"]

SECTION_NAME, SEGMENT_NAME = b"__aotc_const", b"__TEXT"

_MH_MAGIC_64, _MH_OBJECT = 0xFEEDFACF, 1
_HEADER = struct.Struct("<IiiIIIII")
_LOAD_COMMAND = struct.Struct("<II")
_SEGMENT = struct.Struct("<II16sQQQQiiII")
_SECTION = struct.Struct("<16s16sQQIIIIIIII")
_SYMTAB = struct.Struct("<IIIIII")
_DYSYMTAB = struct.Struct("<II18I")
_LINKEDIT_DATA = struct.Struct("<IIII")
_NLIST = struct.Struct("<IBBHQ")
_RELOCATION = struct.Struct("<iI")

_LC_SEGMENT_64, _LC_SYMTAB, _LC_DYSYMTAB = 0x19, 0x2, 0xB
#: linkedit_data_command: (cmd, cmdsize, dataoff, datasize).
_LC_LINKEDIT_DATA = frozenset({0x1D, 0x1E, 0x26, 0x29, 0x2B, 0x2E, 0x80000033, 0x80000034})
#: Commands without file offsets: UUID, version-min (macOS, iOS, tvOS, watchOS), source
#: version, linker option, build version.
_LC_NO_OFFSETS = frozenset({0x1B, 0x24, 0x25, 0x2A, 0x2D, 0x2F, 0x30, 0x32})

_N_STAB, _N_PEXT, _N_TYPE, _N_EXT = 0xE0, 0x10, 0x0E, 0x01
_N_UNDF, _N_SECT = 0x0, 0xE
_MAX_SECT = 255
_R_SCATTERED = 0x80000000
_INDIRECT_SYMBOL_LOCAL, _INDIRECT_SYMBOL_ABS = 0x80000000, 0x40000000

#: 64-bit Mach-O architectures (the first part of a triple).
_ARCHES_64 = frozenset({"x86_64", "x86_64h", "arm64", "arm64e", "aarch64"})


class MachOData(ObjectData):
    """Constants appended to a 64-bit Mach-O object as one read-only section."""

    format = "macho"

    @classmethod
    def supports(cls, triple: str) -> bool:
        return triple.split("-")[0].lower() in _ARCHES_64

    def _attach(self, obj: bytes) -> bytes:
        if len(obj) < _HEADER.size or _HEADER.unpack_from(obj)[0] != _MH_MAGIC_64:
            raise ValueError("big constants were declared outside LLVM but the object is not "
                             "64-bit little-endian Mach-O")
        header = list(_HEADER.unpack_from(obj))
        if header[3] != _MH_OBJECT:
            raise ValueError(f"Mach-O file type {header[3]} is not MH_OBJECT")
        commands_end = _HEADER.size + header[5]
        commands = _commands(obj, header[4], commands_end)
        segment_at = _only(commands, _LC_SEGMENT_64, "LC_SEGMENT_64")
        segment = list(_SEGMENT.unpack_from(obj, segment_at))
        _, _, _, vmaddr, vmsize, fileoff, filesize, _, _, nsects, _ = segment
        if nsects + 1 > _MAX_SECT:
            raise ValueError(f"Mach-O object with {nsects} sections: no section ordinal left")
        sections = [list(_SECTION.unpack_from(obj, _section_at(segment_at, k)))
                    for k in range(nsects)]
        data_end = fileoff + filesize
        if fileoff < commands_end:
            raise ValueError("Mach-O segment data overlaps the load commands")

        # Symbols first: with none referenced, the object stays as LLVM wrote it.
        address = align_up(vmaddr + vmsize, self.align)
        tail = bytearray(obj[data_end:])  # relocations, symbols, strings: small
        symbols = _SymbolTable(obj, tail, data_end, commands)
        placement = self._place(symbols.undefined_named({b"_" + s.encode(): s
                                                         for s, _ in self.blobs}))
        if not placement.offsets:
            return obj
        symbols.define({symbols.index[s]: address + offset
                        for s, offset in placement.offsets.items()}, nsects + 1)
        for section in sections:
            _renumber_relocations(tail, section[6] - data_end, section[7], symbols.renumber)

        grow = _SECTION.size  # the new section header
        new_fileoff = fileoff + grow
        section_offset = new_fileoff + (address - vmaddr)
        new_data_end = section_offset + placement.size
        tail_start = align_up(new_data_end, 8)  # the tail keeps its 8-byte alignment

        def moved(offset: int) -> int:
            """Where a file offset of `obj` lands in the result."""
            if offset < commands_end:
                raise ValueError(f"Mach-O file offset {offset} inside the load commands")
            return offset + grow if offset < data_end else offset - data_end + tail_start

        commands_out = bytearray(obj[_HEADER.size:commands_end])
        for cmd, at in commands:
            if cmd != _LC_SEGMENT_64:
                _move_offsets(commands_out, at - _HEADER.size, cmd, moved, symbols)
        for k, section in enumerate(sections):
            if section[4]:  # offset (0 for zero-fill sections)
                section[4] = moved(section[4])
            if section[7]:  # nreloc
                section[6] = moved(section[6])
            _SECTION.pack_into(commands_out, _section_at(segment_at, k) - _HEADER.size, *section)
        insert_at = _section_at(segment_at, nsects) - _HEADER.size
        commands_out[insert_at:insert_at] = _SECTION.pack(
            SECTION_NAME.ljust(16, b"\0"), SEGMENT_NAME.ljust(16, b"\0"), address,
            placement.size, section_offset, self.align.bit_length() - 1, 0, 0, 0, 0, 0, 0)
        segment[1] += grow  # cmdsize
        segment[4] = address + placement.size - vmaddr  # vmsize
        segment[5] = new_fileoff
        segment[6] = new_data_end - new_fileoff  # filesize
        segment[9] = nsects + 1
        _SEGMENT.pack_into(commands_out, segment_at - _HEADER.size, *segment)
        header[5] += grow  # sizeofcmds
        return b"".join([_HEADER.pack(*header), commands_out,
                         memoryview(obj)[commands_end:data_end],
                         bytes(section_offset - (new_fileoff + filesize)), *placement.chunks,
                         bytes(tail_start - new_data_end), tail])


def _commands(obj: bytes, count: int, end: int) -> list[tuple[int, int]]:
    """(cmd, file offset) of each load command."""
    commands, at = [], _HEADER.size
    for _ in range(count):
        cmd, size = _LOAD_COMMAND.unpack_from(obj, at)
        if size < _LOAD_COMMAND.size or at + size > end:
            raise ValueError(f"Mach-O load command 0x{cmd:x} has a bad size {size}")
        commands.append((cmd, at))
        at += size
    return commands


def _only(commands, cmd: int, name: str) -> int:
    found = [at for c, at in commands if c == cmd]
    if len(found) != 1:
        raise ValueError(f"Mach-O object with {len(found)} {name} commands, not one")
    return found[0]


def _section_at(segment_at: int, k: int) -> int:
    return segment_at + _SEGMENT.size + k * _SECTION.size


class _SymbolTable:
    """The nlist_64 entries of LC_SYMTAB (in `tail`, the file's copy from `data_end`) and
    LC_DYSYMTAB's grouping of them."""

    def __init__(self, obj: bytes, tail: bytearray, data_end: int, commands):
        self.tail, self.data_end = tail, data_end
        _, _, self.symoff, nsyms, stroff, strsize = _SYMTAB.unpack_from(
            obj, _only(commands, _LC_SYMTAB, "LC_SYMTAB"))
        if (nsyms and self.symoff < data_end) or (strsize and stroff < data_end):
            raise ValueError("Mach-O symbol table inside the segment data")
        dysymtab = [at for c, at in commands if c == _LC_DYSYMTAB]
        self.dysymtab = list(_DYSYMTAB.unpack_from(obj, dysymtab[0])) if dysymtab else None
        strings = bytes(obj[stroff:stroff + strsize])
        start = self.symoff - data_end
        self.entries = [list(_NLIST.unpack_from(tail, start + k * _NLIST.size))
                        for k in range(nsyms)]
        self.names = [strings[e[0]:strings.index(b"\0", e[0])] for e in self.entries]
        self.index: dict[str, int] = {}
        self.renumber = list(range(nsyms))

    def undefined_named(self, wanted: dict[bytes, str]) -> set[str]:
        """The symbols of `wanted` (file name -> blob symbol) that are undefined externals
        here (not common symbols); remembers their indices."""
        for k, ((_, n_type, _, _, value), name) in enumerate(zip(self.entries, self.names)):
            if (name in wanted and not n_type & _N_STAB and n_type & _N_TYPE == _N_UNDF
                    and n_type & _N_EXT and value == 0):
                self.index[wanted[name]] = k
        return set(self.index)

    def define(self, values: dict[int, int], ordinal: int) -> None:
        """Define symbols (index -> address) in section `ordinal` as private externs and
        write the table back, regrouped for LC_DYSYMTAB."""
        for k, value in values.items():
            self.entries[k][1:] = [_N_SECT | _N_EXT | _N_PEXT, ordinal, 0, value]
        order = list(range(len(self.entries)))
        if self.dysymtab is not None:
            d = self.dysymtab
            (ilocal, nlocal, iextdef, nextdef, iundef, nundef) = d[2:8]
            if not (ilocal == 0 and iextdef == nlocal and iundef == iextdef + nextdef
                    and iundef + nundef == len(self.entries)):
                raise ValueError("Mach-O symbol table not grouped as LC_DYSYMTAB says")
            by_name = self.names.__getitem__
            extdefs = sorted([*range(iextdef, iundef), *values], key=by_name)
            undefs = [k for k in range(iundef, len(self.entries)) if k not in values]
            order = [*range(nlocal), *extdefs, *undefs]
            d[4:8] = [nlocal, len(extdefs), nlocal + len(extdefs), len(undefs)]
        for new, old in enumerate(order):
            self.renumber[old] = new
            _NLIST.pack_into(self.tail, self.symoff - self.data_end + new * _NLIST.size,
                             *self.entries[old])


def _renumber_relocations(tail: bytearray, start: int, count: int, renumber) -> None:
    """Point the extern relocations of one section at their symbols' new indices."""
    if count and start < 0:
        raise ValueError("Mach-O relocations inside the segment data")
    for at in range(start, start + count * _RELOCATION.size, _RELOCATION.size):
        address, info = _RELOCATION.unpack_from(tail, at)
        if address & _R_SCATTERED:
            raise ValueError("Mach-O object with scattered relocations")
        if info >> 27 & 1:  # r_extern: r_symbolnum (the low 24 bits) is a symbol index
            info = info & ~0xFFFFFF | renumber[info & 0xFFFFFF]
            _RELOCATION.pack_into(tail, at, address, info)


def _move_offsets(commands: bytearray, at: int, cmd: int, moved, symbols: _SymbolTable) -> None:
    """Rewrite the file offsets of one load command (at `at` in `commands`)."""
    if cmd == _LC_SYMTAB:
        fields = list(_SYMTAB.unpack_from(commands, at))
        fields[2], fields[4] = moved(fields[2]), moved(fields[4])
        _SYMTAB.pack_into(commands, at, *fields)
    elif cmd == _LC_DYSYMTAB:
        d = symbols.dysymtab
        if any(d[k] for k in (9, 11, 13, 17, 19)):  # ntoc, nmodtab, nextrefsyms, nextrel, nlocrel
            raise ValueError("Mach-O object with a table of contents, modules or dynamic "
                             "relocations")
        if d[15]:  # nindirectsyms: entries are symbol indices too
            start = d[14] - symbols.data_end
            for k in range(start, start + 4 * d[15], 4):
                (entry,) = struct.unpack_from("<I", symbols.tail, k)
                if not entry & (_INDIRECT_SYMBOL_LOCAL | _INDIRECT_SYMBOL_ABS):
                    struct.pack_into("<I", symbols.tail, k, symbols.renumber[entry])
            d[14] = moved(d[14])
        _DYSYMTAB.pack_into(commands, at, *d)
    elif cmd in _LC_LINKEDIT_DATA:
        fields = list(_LINKEDIT_DATA.unpack_from(commands, at))
        if fields[3]:
            fields[2] = moved(fields[2])
        _LINKEDIT_DATA.pack_into(commands, at, *fields)
    elif cmd not in _LC_NO_OFFSETS:
        raise ValueError(f"Mach-O load command 0x{cmd:x} is not one aotc can rewrite")
