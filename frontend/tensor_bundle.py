"""Reading TensorFlow checkpoints (tensor bundles) without TensorFlow.

A checkpoint with prefix P (a SavedModel's is `variables/variables`) is

- `P.index`: an SSTable (LevelDB's table format, as TensorFlow's core/lib/io/table
  writes it) mapping each tensor's key to a `BundleEntryProto`, and the empty key to a
  `BundleHeaderProto`;
- `P.data-SSSSS-of-NNNNN`: the shards, holding each tensor's bytes at the entry's
  offset.

The table is read whole, in key order: the footer (the last 48 bytes: two block handles
and a magic number) points at the index block, whose values are the handles of the data
blocks. Each block is followed by a one-byte compression type and a masked CRC32C of its
contents and type; entries share key prefixes with their predecessor except at the block's
restart points, which are checked to start fresh. TensorFlow writes bundle indexes
uncompressed (BundleWriter turns compression off); a Snappy-compressed block is rejected
with a message saying so rather than misread.

Tensor data: numeric tensors are their elements in C order, little-endian unless the
header says otherwise; string tensors (DT_STRING, e.g. the object graph TF2 stores under
`_CHECKPOINTABLE_OBJECT_GRAPH`) are the varint64 lengths of the elements, a masked CRC32C
of those lengths, then the bytes. Every tensor's bytes are checked against the entry's
CRC32C.
"""

from __future__ import annotations

import math
import os
import struct

import numpy as np

from .errors import FrontendError
from .graph import numpy_dtype, shape_from_proto
from .proto import aotc_tensor_bundle_pb2, aotc_types_pb2
from .tensor_slices import Region, slice_key

__all__ = ["BundleError", "TensorBundle", "crc32c", "read_table"]

_MAGIC = 0xDB4775248B80FB57
_FOOTER_BYTES = 48
_BLOCK_TRAILER_BYTES = 5  # compression type + masked crc32c
_COMPRESSION_NAMES = {1: "Snappy", 2: "zlib"}
_MASK_DELTA = 0xA282EAD8


class BundleError(FrontendError):
    """A checkpoint that cannot be read: missing files, corrupt tables or data."""


# ---------------------------------------------------------------------------------------
# CRC32C (Castagnoli), as TensorFlow's core/lib/hash/crc32c masks and checks it


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table.append(crc)
    return table


_TABLE = _crc_table()


#: Below this many bytes the byte-at-a-time loop is fastest.
_SERIAL_BYTES = 1 << 16


def crc32c(data: bytes, crc: int = 0) -> int:
    """The CRC32C of `data`, continuing from `crc` (0 for a fresh checksum)."""
    register = crc ^ 0xFFFFFFFF
    if len(data) < _SERIAL_BYTES:
        return _advance(register, data) ^ 0xFFFFFFFF
    # CRC is linear: cut the data into equal lanes, run the table over all lanes at once
    # with NumPy (each from a zero register), then fold the lanes' registers in order,
    # shifting the running register over each lane's length of zero bytes.
    lane = math.isqrt(len(data))
    count = len(data) // lane
    lanes = np.frombuffer(data, np.uint8, count * lane).reshape(count, lane).T.copy()
    table = np.array(_TABLE, np.uint32)
    registers = np.zeros(count, np.uint32)
    shifted = np.array([1 << bit for bit in range(32)], np.uint32)  # the zero-byte operator
    for column in lanes:
        registers = table[(registers ^ column) & 0xFF] ^ (registers >> 8)
        shifted = table[shifted & 0xFF] ^ (shifted >> 8)
    columns = [int(c) for c in shifted]
    for value in registers.tolist():
        folded, bit = 0, 0
        while register:
            if register & 1:
                folded ^= columns[bit]
            register >>= 1
            bit += 1
        register = folded ^ value
    return _advance(register, data[count * lane:]) ^ 0xFFFFFFFF


def _advance(register: int, data: bytes) -> int:
    table = _TABLE
    for byte in data:
        register = table[(register ^ byte) & 0xFF] ^ (register >> 8)
    return register


def _unmask(masked: int) -> int:
    rot = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


# ---------------------------------------------------------------------------------------
# The SSTable


def _varint(data: bytes, pos: int, where: str) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise BundleError(f"{where}: truncated or malformed varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _block(data: bytes, handle: tuple[int, int], path: str) -> bytes:
    """The contents of the block at `handle` (offset, size), its trailer checked."""
    offset, size = handle
    end = offset + size + _BLOCK_TRAILER_BYTES
    if offset < 0 or end > len(data):
        raise BundleError(f"'{path}' is truncated: a block at byte {offset} runs past the "
                          f"end of the file ({len(data)} bytes)")
    contents, kind = data[offset:offset + size], data[offset + size]
    (stored,) = struct.unpack_from("<I", data, offset + size + 1)
    if _unmask(stored) != crc32c(bytes([kind]), crc32c(contents)):
        raise BundleError(f"'{path}' is corrupt: the checksum of the block at byte "
                          f"{offset} does not match")
    if kind != 0:
        name = _COMPRESSION_NAMES.get(kind, f"type {kind}")
        raise BundleError(f"'{path}' has a {name}-compressed block at byte {offset}; aotc "
                          "reads uncompressed tensor bundles, as TensorFlow writes them")
    return contents


def _block_entries(block: bytes, where: str) -> list[tuple[bytes, bytes]]:
    """The (key, value) pairs of one block, in order."""
    if len(block) < 4:
        raise BundleError(f"{where}: block too short")
    (num_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    limit = len(block) - 4 - 4 * num_restarts
    if limit < 0:
        raise BundleError(f"{where}: bad restart count {num_restarts}")
    restarts = set(struct.unpack_from(f"<{num_restarts}I", block, limit))
    entries, key, pos = [], b"", 0
    while pos < limit:
        start = pos
        shared, pos = _varint(block, pos, where)
        unshared, pos = _varint(block, pos, where)
        value_len, pos = _varint(block, pos, where)
        if start in restarts and shared:
            raise BundleError(f"{where}: the entry at restart point {start} shares a prefix")
        if shared > len(key) or pos + unshared + value_len > limit:
            raise BundleError(f"{where}: malformed entry at byte {start}")
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        entries.append((key, block[pos:pos + value_len]))
        pos += value_len
    return entries


def read_table(path: str) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of the SSTable file at `path`, in key order."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise BundleError(f"cannot read checkpoint index '{path}': {e.strerror or e}") from None
    if len(data) < _FOOTER_BYTES or struct.unpack_from("<Q", data, len(data) - 8)[0] != _MAGIC:
        raise BundleError(f"'{path}' is not a checkpoint index (no table footer)")
    footer = data[len(data) - _FOOTER_BYTES:]
    pos = 0
    handles = []
    for _ in range(2):  # metaindex, then index
        offset, pos = _varint(footer, pos, path)
        size, pos = _varint(footer, pos, path)
        handles.append((offset, size))
    entries = []
    for _, handle_bytes in _block_entries(_block(data, handles[1], path), f"'{path}' index"):
        offset, pos = _varint(handle_bytes, 0, path)
        size, _ = _varint(handle_bytes, pos, path)
        entries += _block_entries(_block(data, (offset, size), path), f"'{path}' block")
    return entries


# ---------------------------------------------------------------------------------------
# The bundle


class TensorBundle:
    """The tensors of the checkpoint with prefix `prefix` (e.g. `.../variables/variables`).

    `keys()` lists the saved tensors; `read(key)` returns a numeric tensor as a NumPy
    array, a string tensor as a list of bytes (a scalar as bytes).
    """

    def __init__(self, prefix: str | os.PathLike):
        self.prefix = os.fspath(prefix)
        self._entries: dict[str, aotc_tensor_bundle_pb2.BundleEntryProto] = {}
        self._slices: dict[bytes, aotc_tensor_bundle_pb2.BundleEntryProto] = {}
        header = None
        for key, value in read_table(self.prefix + ".index"):
            if key == b"":
                header = aotc_tensor_bundle_pb2.BundleHeaderProto.FromString(value)
                continue
            entry = aotc_tensor_bundle_pb2.BundleEntryProto.FromString(value)
            if key.startswith(b"\x00"):  # a slice of a partitioned tensor (tensor_slices.py)
                self._slices[key] = entry
            else:
                self._entries[key.decode("utf-8", "replace")] = entry
        if header is None:
            raise BundleError(f"'{self.prefix}.index' has no bundle header")
        self.num_shards = header.num_shards
        self._byte_order = ">" if header.endianness == header.BIG else "<"
        self._shards: dict[int, bytes] = {}

    def keys(self) -> list[str]:
        """The saved tensors' keys, sorted."""
        return sorted(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def read(self, key: str, region: Region | None = None):
        """The value saved under `key`: an ndarray, or bytes / a list of bytes for strings;
        for an ndarray, only `region` of it when given (a part of a partitioned variable).
        A tensor saved in slices is put together from the slices that cover what is read."""
        entry = self._entries.get(key)
        if entry is None:
            raise BundleError(f"checkpoint '{self.prefix}' has no tensor '{key}'")
        what = f"tensor '{key}' of checkpoint '{self.prefix}'"
        shape = shape_from_proto(entry.shape) or ()
        if region is not None and (len(region.starts) != len(shape) or any(
                s + n > d for s, n, d in zip(region.starts, region.lengths, shape))):
            raise BundleError(f"{what} has shape {list(shape)}, which the slice "
                              f"{list(zip(region.starts, region.lengths))} does not fit")
        if entry.slices:
            return self._assemble(key, entry, region or Region.whole(shape), what)
        value = self._decode(entry, what)
        if region is None:
            return value
        if not isinstance(value, np.ndarray):
            raise BundleError(f"{what} is a string tensor; aotc reads no slices of those")
        return value[region.within(Region.whole(shape))]

    def _assemble(self, key: str, entry, region: Region, what: str) -> np.ndarray:
        """`region` of a tensor saved in slices: each saved slice's overlap copied in."""
        shape = shape_from_proto(entry.shape) or ()
        out = np.zeros(region.lengths, numpy_dtype(entry.dtype, what))
        covered = 0
        for extents in entry.slices:
            saved = Region.from_extents(extents.extent, shape)
            overlap = saved.intersect(region)
            if overlap is None:
                continue
            part = self._slices.get(slice_key(key, extents.extent))
            if part is None:
                raise BundleError(f"{what}: the data of its slice "
                                  f"{list(zip(saved.starts, saved.lengths))} is missing")
            value = self._decode(part, what, saved.lengths)
            out[overlap.within(region)] = value[overlap.within(saved)]
            covered += math.prod(overlap.lengths)
        if covered != math.prod(region.lengths):
            raise BundleError(f"{what}: its saved slices do not cover "
                              f"{list(zip(region.starts, region.lengths))} exactly once")
        return out

    def _decode(self, entry, what: str, shape=None):
        """The value of a data-holding entry (`shape` for a slice's, whose entry has none)."""
        shard = self._shard(entry.shard_id, what)
        data = shard[entry.offset:entry.offset + entry.size]
        if entry.offset < 0 or len(data) != entry.size:
            raise BundleError(f"{what}: the data shard is truncated")
        if shape is None:
            shape = shape_from_proto(entry.shape) or ()
        if entry.dtype == aotc_types_pb2.DT_STRING:
            values, checksum = _strings(data, shape, what)
        else:
            values, checksum = None, crc32c(data)
        if _unmask(entry.crc32c) != checksum:
            raise BundleError(f"{what}: the checksum of its data does not match (corrupt "
                              "checkpoint)")
        if values is not None:
            return values
        dtype = numpy_dtype(entry.dtype, what).newbyteorder(self._byte_order)
        count = int(np.prod(shape, dtype=np.int64))
        if count * dtype.itemsize != len(data):
            raise BundleError(f"{what}: {len(data)} bytes do not hold {count} "
                              f"{dtype.name} elements")
        return np.frombuffer(data, dtype).astype(dtype.newbyteorder("=")).reshape(shape)

    def _shard(self, shard_id: int, what: str) -> bytes:
        if shard_id not in self._shards:
            if not 0 <= shard_id < self.num_shards:
                raise BundleError(f"{what} is in shard {shard_id}, but the bundle has "
                                  f"{self.num_shards}")
            path = f"{self.prefix}.data-{shard_id:05d}-of-{self.num_shards:05d}"
            try:
                with open(path, "rb") as f:
                    self._shards[shard_id] = f.read()
            except OSError as e:
                raise BundleError(f"cannot read checkpoint data '{path}': "
                                  f"{e.strerror or e}") from None
        return self._shards[shard_id]


def _strings(data: bytes, shape: tuple[int, ...], what: str):
    """A string tensor's values and the checksum TensorFlow computes for it: over each
    length as a little-endian uint32 (uint64 above 4 GiB; not the varint stored), the
    stored length checksum, then the bytes."""
    count = int(np.prod(shape, dtype=np.int64))
    lengths, pos = [], 0
    for _ in range(count):
        length, pos = _varint(data, pos, what)
        lengths.append(length)
    checksum = crc32c(b"".join(struct.pack("<I" if n <= 0xFFFFFFFF else "<Q", n)
                               for n in lengths))
    checksum = crc32c(data[pos:pos + 4], checksum)
    pos += 4
    values = []
    for length in lengths:
        values.append(data[pos:pos + length])
        checksum = crc32c(values[-1], checksum)
        pos += length
    if pos != len(data):
        raise BundleError(f"{what}: malformed string tensor")
    return (values[0] if shape == () else values), checksum
