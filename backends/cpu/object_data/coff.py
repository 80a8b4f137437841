"""Big constants appended to a COFF object (the regular format, not /bigobj), as the PE
format specification lays it out.

A COFF object is a file header, the section table, the sections' raw data and
relocations, then the symbol table followed by the string table. The rewrite:

- a section header `.rdata$aotc` is added to the table (grouped into `.rdata` by the
  linker; the name is longer than 8 bytes, so it is `/<offset>` into the string table),
  IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ with the blobs' alignment; the table
  grows by 40 bytes and the data after it moves by as much;
- the section's bytes go where the symbol table was; the symbol table follows them;
- each referenced undefined external symbol gets the new section's number and its
  blob's offset as value (COFF has no visibility: an external symbol of an object is
  not exported from a DLL unless marked dllexport), and a static section symbol with its
  section-definition auxiliary record is appended, as LLVM writes one per section.
  Existing symbols keep their indices, so relocations are untouched.

Symbol names get a leading `_` on i386 only.
"""

from __future__ import annotations

import struct

from .base import ObjectData, align_up

__all__ = ["CoffData", "SECTION_NAME"]

SECTION_NAME = b".rdata$aotc"

_FILE_HEADER = struct.Struct("<HHIIIHH")
_SECTION = struct.Struct("<8sIIIIIIHHI")
_SYMBOL = struct.Struct("<8sIhHBB")
_SECTION_AUX = struct.Struct("<IHHIHB3x")
_STRING_SIZE = struct.Struct("<I")

_MACHINE_I386 = 0x14C
_BIGOBJ_SIGNATURE = (0x0000, 0xFFFF)  # Machine, NumberOfSections of a /bigobj header
_MAX_SECTIONS = 0xFEFF  # section numbers above are reserved
_SCN_CNT_INITIALIZED_DATA = 0x00000040
_SCN_MEM_READ = 0x40000000
_SYM_CLASS_EXTERNAL, _SYM_CLASS_STATIC = 2, 3
_SYM_UNDEFINED = 0


class CoffData(ObjectData):
    """Constants appended to a COFF object as one read-only data section."""

    format = "coff"

    def _attach(self, obj: bytes) -> bytes:
        if len(obj) < _FILE_HEADER.size:
            raise ValueError("big constants were declared outside LLVM but the object is not COFF")
        header = list(_FILE_HEADER.unpack_from(obj))
        machine, nsections, _, symtab, nsymbols, optional, _ = header
        if (machine, nsections) == _BIGOBJ_SIGNATURE:
            raise ValueError("COFF /bigobj objects are not supported")
        if optional or not symtab:
            raise ValueError("big constants were declared outside LLVM but the object is not "
                             "a COFF object with a symbol table")
        if nsections + 1 > _MAX_SECTIONS:
            raise ValueError(f"COFF object with {nsections} sections: no section number left")
        table_end = _FILE_HEADER.size + nsections * _SECTION.size
        strings_at = symtab + nsymbols * _SYMBOL.size
        (strings_size,) = _STRING_SIZE.unpack_from(obj, strings_at)
        strings = bytearray(obj[strings_at:strings_at + strings_size])

        symbols = bytearray(obj[symtab:strings_at])
        prefix = b"_" if machine == _MACHINE_I386 else b""
        wanted = {prefix + symbol.encode(): symbol for symbol, _ in self.blobs}
        found = _undefined_externals(symbols, bytes(strings), wanted)
        placement = self._place(found)
        if not placement.offsets:
            return obj
        number = nsections + 1
        for symbol, at in found.items():
            name, _, _, kind, storage, aux = _SYMBOL.unpack_from(symbols, at)
            _SYMBOL.pack_into(symbols, at, name, placement.offsets[symbol], number, kind,
                              storage, aux)

        grow = _SECTION.size
        data_at = align_up(symtab + grow, self.align)
        new_symtab = align_up(data_at + placement.size, 8)
        name_offset = len(strings)
        strings += SECTION_NAME + b"\0"
        _STRING_SIZE.pack_into(strings, 0, len(strings))
        symbols += _SYMBOL.pack(b"\0" * 4 + _STRING_SIZE.pack(name_offset), 0, number, 0,
                                _SYM_CLASS_STATIC, 1)
        symbols += _SECTION_AUX.pack(placement.size, 0, 0, 0, number, 0)
        header[1], header[3], header[4] = number, new_symtab, nsymbols + 2

        section_table = bytearray(obj[_FILE_HEADER.size:table_end])
        for k in range(nsections):
            fields = list(_SECTION.unpack_from(section_table, k * _SECTION.size))
            for f in (4, 5, 6):  # PointerToRawData, PointerToRelocations, PointerToLinenumbers
                if fields[f]:
                    if not table_end <= fields[f] <= symtab:
                        raise ValueError("COFF section data outside the expected layout")
                    fields[f] += grow
            _SECTION.pack_into(section_table, k * _SECTION.size, *fields)
        alignment = self.align.bit_length() << 20  # IMAGE_SCN_ALIGN_<align>BYTES
        section_table += _SECTION.pack(_section_name(name_offset), 0, 0, placement.size, data_at,
                                       0, 0, 0, 0,
                                       _SCN_CNT_INITIALIZED_DATA | _SCN_MEM_READ | alignment)
        return b"".join([_FILE_HEADER.pack(*header), section_table,
                         memoryview(obj)[table_end:symtab],
                         bytes(data_at - symtab - grow), *placement.chunks,
                         bytes(new_symtab - data_at - placement.size), symbols, strings])


def _section_name(offset: int) -> bytes:
    """A section header's name field for a name at `offset` in the string table: `/` and
    the offset in decimal, or past 7 digits `//` and 6 base-64 digits."""
    if offset <= 9_999_999:
        return b"/" + str(offset).encode()
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return b"//" + bytes(alphabet[offset >> 6 * k & 63] for k in reversed(range(6)))


def _undefined_externals(symbols: bytes, strings: bytes, wanted: dict[bytes, str]):
    """{blob symbol: offset of its entry in `symbols`} for the undefined external symbols
    (not common ones: those have a size as value) whose names `wanted` maps."""
    found, at = {}, 0
    while at < len(symbols):
        name, value, section, _, storage, aux = _SYMBOL.unpack_from(symbols, at)
        if name[:4] == b"\0\0\0\0":  # (0, offset): a long name in the string table
            (offset,) = _STRING_SIZE.unpack_from(name, 4)
            name = strings[offset:strings.index(b"\0", offset)]
        else:
            name = name.rstrip(b"\0")
        if (section == _SYM_UNDEFINED and storage == _SYM_CLASS_EXTERNAL and value == 0
                and name in wanted):
            found[wanted[name]] = at
        at += (1 + aux) * _SYMBOL.size
    return found
