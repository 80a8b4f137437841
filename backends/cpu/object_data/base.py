"""What every object-format writer of big constants shares: the blobs, their symbols and
their layout in the one section a writer appends (see the package docstring)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

__all__ = ["ObjectData", "Placement", "align_up"]


def align_up(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


@dataclass
class Placement:
    """The referenced blobs laid out in the new section: each symbol's offset and size,
    the section's contents as chunks (blobs by reference, zero padding between) and its
    size."""

    offsets: dict[str, int]
    sizes: dict[str, int]
    chunks: list
    size: int


@dataclass
class ObjectData:
    """Constants to append to one object file as a read-only section, defining the
    external symbols the code refers to them by. A subclass per object format does the
    rewriting (`_attach`); `add` and `attach` are the interface the emitters use."""

    symbol_prefix: str  # unique per object (the entry symbol), so objects link together
    align: int = 64
    blobs: list[tuple[str, memoryview]] = field(default_factory=list)

    #: The object format the subclass rewrites ("elf", "macho", "coff").
    format: ClassVar[str] = ""

    @classmethod
    def supports(cls, triple: str) -> bool:
        """Whether objects of `triple` are ones this writer can rewrite (the format is
        already known to be `format`)."""
        return True

    def add(self, data: memoryview) -> str:
        """Take `data` (bytes, kept by reference, not copied); return the symbol to declare
        (as an external hidden global, so the code addresses it PC-relative)."""
        symbol = f"{self.symbol_prefix}.constant.{len(self.blobs)}"
        self.blobs.append((symbol, data))
        return symbol

    def attach(self, obj: bytes) -> bytes:
        """`obj` with a section holding every blob that `obj` refers to, its undefined
        symbols now defined there. The blobs are copied once, into the result."""
        if not self.blobs:
            return obj
        return self._attach(obj)

    def _attach(self, obj: bytes) -> bytes:
        raise NotImplementedError

    def _place(self, referenced) -> Placement:
        """Lay out the blobs whose symbols are in `referenced` (in the order they were
        added), each aligned to `align`; the others are left out."""
        offsets, sizes, chunks, size = {}, {}, [], 0
        for symbol, blob in self.blobs:
            if symbol not in referenced:
                continue
            start = align_up(size, self.align)
            if start > size:
                chunks.append(bytes(start - size))
            chunks.append(blob)
            offsets[symbol], sizes[symbol] = start, len(blob)
            size = start + len(blob)
        return Placement(offsets, sizes, chunks, size)
