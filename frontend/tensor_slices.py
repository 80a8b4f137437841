"""Slices of partitioned variables, as TensorFlow's checkpoints name and describe them.

A TF1 partitioned variable (`get_variable(..., partitioner=...)`) is saved as one tensor
name with several slices. The bundle's entry under the name lists the slices (extents of
the full shape) and holds no data; each slice's bytes are under a binary key that
TensorFlow's `EncodeTensorNameSlice` builds with its OrderedCode encoding: the number 0,
the name, the rank, then the start and length of each dimension (length -1 for a whole
dimension). The graph's restore op names each part's slice with a spec string such as
"5 4 0,2:0,4" (the full shape, then `start,length` or `-` per dimension).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Region", "parse_slice_spec", "slice_key"]


@dataclass(frozen=True)
class Region:
    """A box inside a tensor: per dimension, its start and its length."""

    starts: tuple[int, ...]
    lengths: tuple[int, ...]

    @classmethod
    def whole(cls, shape) -> "Region":
        return cls(tuple(0 for _ in shape), tuple(shape))

    @classmethod
    def from_extents(cls, extents, shape) -> "Region":
        """The region of TensorSliceProto extents (a missing length is the whole dim)."""
        starts, lengths = [], []
        for extent, dim in zip(extents, shape):
            starts.append(extent.start)
            lengths.append(extent.length if extent.HasField("length") else dim)
        return cls(tuple(starts), tuple(lengths))

    def intersect(self, other: "Region") -> "Region | None":
        starts = tuple(max(a, b) for a, b in zip(self.starts, other.starts))
        ends = tuple(min(a + m, b + n) for a, m, b, n in
                     zip(self.starts, self.lengths, other.starts, other.lengths))
        if any(e <= s for s, e in zip(starts, ends)):
            return None
        return Region(starts, tuple(e - s for s, e in zip(starts, ends)))

    def within(self, outer: "Region") -> tuple[slice, ...]:
        """This region as index slices of an array holding `outer`."""
        return tuple(slice(s - o, s - o + n)
                     for s, n, o in zip(self.starts, self.lengths, outer.starts))


def parse_slice_spec(spec: str) -> tuple[tuple[int, ...], Region | None]:
    """The full shape and region of a restore op's shape-and-slice spec ("" is the whole
    tensor: shape and region None). Raises ValueError on a malformed spec."""
    if not spec.strip():
        return (), None
    *dims, extents = spec.split()
    shape = tuple(int(d) for d in dims)
    parts = extents.split(":")
    if len(parts) != len(shape) or any(d < 0 for d in shape):
        raise ValueError(f"malformed slice spec '{spec}'")
    starts, lengths = [], []
    for part, dim in zip(parts, shape):
        if part == "-":
            starts.append(0)
            lengths.append(dim)
            continue
        start, length = (int(v) for v in part.split(","))
        if start < 0 or length < 0 or start + length > dim:
            raise ValueError(f"slice spec '{spec}' reaches outside its shape")
        starts.append(start)
        lengths.append(length)
    return shape, Region(tuple(starts), tuple(lengths))


def slice_key(name: str, extents) -> bytes:
    """The bundle key of the saved slice of tensor `name` with TensorSliceProto `extents`
    (as the name's entry lists them)."""
    key = _num_increasing(0) + _string(name.encode("utf-8")) + _num_increasing(len(extents))
    for extent in extents:
        length = extent.length if extent.HasField("length") else -1  # -1: the whole dim
        key += _signed_num_increasing(extent.start) + _signed_num_increasing(length)
    return key


# OrderedCode (TensorFlow's lib/strings/ordered_code), the three encodings the key uses.

def _num_increasing(value: int) -> bytes:
    """An unsigned number: its byte count, then its big-endian bytes (none for 0)."""
    body = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return bytes([len(body)]) + body


def _string(text: bytes) -> bytes:
    """A string: 0x00 and 0xff escaped (by a following 0xff and 0x00), then 0x00 0x01."""
    out = bytearray()
    for byte in text:
        out += {0x00: b"\x00\xff", 0xFF: b"\xff\x00"}.get(byte, bytes([byte]))
    return bytes(out) + b"\x00\x01"


#: Header bits OR-ed into the first two bytes of a signed number of each byte length.
_SIGNED_HEADERS = [(0, 0), (0x80, 0), (0xC0, 0), (0xE0, 0), (0xF0, 0), (0xF8, 0), (0xFC, 0),
                   (0xFE, 0), (0xFF, 0), (0xFF, 0x80), (0xFF, 0xC0)]


def _signed_num_increasing(value: int) -> bytes:
    """A signed number: two's complement, sign-extended to a length holding its bits plus
    a unary length header in its leading bits (7 payload bits per byte)."""
    magnitude = ~value if value < 0 else value
    length = magnitude.bit_length() // 7 + 1
    body = bytearray((value & ((1 << 80) - 1)).to_bytes(10, "big")[10 - length:])
    first, second = _SIGNED_HEADERS[length]
    body[0] ^= first
    if length > 1:
        body[1] ^= second
    return bytes(body)
