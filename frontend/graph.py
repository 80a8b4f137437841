"""Reading GraphDefs and Configs, and turning their attrs and tensors into Python values.

File format rule (the same as tfcompile's): a file whose name ends in `.pbtxt` is protobuf
text format, anything else is binary. We never guess from the content, but when a parse
fails the error says which format was assumed and why.

Python values produced from protos:

- DataType enum -> `numpy.dtype` (`numpy_dtype`); `_REF` types map like their base type.
  Types NumPy cannot represent (bfloat16, float8, quantized, string, resource, variant)
  raise FrontendError.
- TensorShapeProto -> tuple of ints with -1 for an unknown dimension, or None when even
  the rank is unknown (`shape_from_proto`).
- TensorProto -> `numpy.ndarray` (`tensor_to_numpy`).
"""

from __future__ import annotations

import math
import os
from typing import Any, Callable, NamedTuple

import numpy as np
from google.protobuf import message as _message
from google.protobuf import text_format

from .errors import FrontendError, GraphFileError
from .proto import (
    aotc_attr_value_pb2,
    aotc_graph_pb2,
    aotc_node_def_pb2,
    aotc_tf2xla_pb2,
    aotc_types_pb2,
)

GraphDef = aotc_graph_pb2.GraphDef
NodeDef = aotc_node_def_pb2.NodeDef
Config = aotc_tf2xla_pb2.Config
DataType = aotc_types_pb2.DataType

__all__ = [
    "load_graph",
    "load_config",
    "parse_graph",
    "parse_config",
    "to_graph_def",
    "to_config",
    "numpy_dtype",
    "dtype_name",
    "base_dtype",
    "shape_from_proto",
    "tensor_to_numpy",
    "attr_value",
]

TEXT_SUFFIX = ".pbtxt"

# ---------------------------------------------------------------------------------------
# Loading


def load_graph(path: str | os.PathLike) -> GraphDef:
    """Read a GraphDef from `path` (text format if the name ends in .pbtxt, else binary).

    Raises GraphFileError if the file cannot be read, does not parse as a GraphDef, or
    holds no nodes.
    """
    path = os.fspath(path)
    return parse_graph(_read(path, "graph"), text=_is_text(path), source=path)


def load_config(path: str | os.PathLike) -> Config:
    """Read a tf2xla Config from `path` (text format if the name ends in .pbtxt, else binary).

    Raises GraphFileError if the file cannot be read or does not parse as a Config.
    """
    path = os.fspath(path)
    return parse_config(_read(path, "Config"), text=_is_text(path), source=path)


def parse_graph(data: bytes | str, *, text: bool, source: str = "<graph>") -> GraphDef:
    """Parse GraphDef bytes (or text) and check that the result plausibly is one.

    `source` names the origin (usually the file) in error messages.
    """
    return _parse_checked(_GRAPH, data, text, source)


def parse_config(data: bytes | str, *, text: bool, source: str = "<config>") -> Config:
    """Parse tf2xla Config bytes (or text) and check that the result plausibly is one."""
    return _parse_checked(_CONFIG, data, text, source)


def to_graph_def(graph: Any) -> GraphDef:
    """Accept a path, binary GraphDef bytes, our GraphDef, or any GraphDef-like message
    (e.g. TensorFlow's).

    Foreign messages are converted through their binary serialization, which is
    identical because our schema uses TensorFlow's field numbers.
    """
    return _coerce(graph, GraphDef, load_graph, parse_graph, "GraphDef")


def to_config(config: Any) -> Config:
    """Accept a path, binary Config bytes, our Config, or any Config-like message (e.g.
    TensorFlow's tf2xla)."""
    return _coerce(config, Config, load_config, parse_config, "Config")


def _coerce(obj: Any, cls: type, load: Callable, parse: Callable, kind: str):
    if isinstance(obj, cls):
        return obj
    if isinstance(obj, (str, os.PathLike)):
        return load(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):  # a serialized (binary) proto
        return parse(bytes(obj), text=False, source=f"<{kind} bytes>")
    if isinstance(obj, _message.Message):
        type_name = obj.DESCRIPTOR.name
        if type_name != cls.DESCRIPTOR.name:
            raise FrontendError(f"expected a {kind} message, got a {type_name} message")
        return parse(obj.SerializeToString(), text=False, source=f"<{type_name} message>")
    raise FrontendError(
        f"expected a {kind} (a file path, serialized bytes or a protobuf message), got "
        f"{type(obj).__name__}"
    )


def _is_text(path: str) -> bool:
    return path.endswith(TEXT_SUFFIX)


def _read(path: str, kind: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise GraphFileError(f"{kind} file '{path}' does not exist") from None
    except IsADirectoryError:
        raise GraphFileError(f"{kind} file '{path}' is a directory, not a file") from None
    except OSError as e:
        raise GraphFileError(f"cannot read {kind} file '{path}': {e.strerror or e}") from None


class _Kind(NamedTuple):
    """A kind of input file: its message class, how to name it, how to sanity-check it."""

    cls: type
    label: str
    check: Callable[[Any, str], None]


def _parse_checked(kind: _Kind, data: bytes | str, text: bool, source: str):
    try:
        msg = kind.cls()
        (_parse_text if text else _parse_binary)(msg, data, source, kind.label)
        kind.check(msg, source)
        return msg
    except GraphFileError as e:
        raise GraphFileError(str(e) + _swap_hint(kind, data, text)) from None


def _swap_hint(kind: _Kind, data: bytes | str, text: bool) -> str:
    """Say so when a file rejected as one kind parses cleanly as the other kind."""
    other = _CONFIG if kind is _GRAPH else _GRAPH
    try:
        msg = other.cls()
        (_parse_text if text else _parse_binary)(msg, data, "", other.label)
        other.check(msg, "")
        plausible = bool(msg.fetch) if other is _CONFIG else True
    except GraphFileError:
        plausible = False
    if not plausible:
        if not text and _looks_like_text(data):
            return f". It looks like text format: name text files *{TEXT_SUFFIX}"
        return ""
    return (
        f". It looks like a {other.label}: the graph comes first, then the Config "
        "(aotc compile GRAPH CONFIG)"
    )


def _looks_like_text(data: bytes | str) -> bool:
    if not data:
        return False
    if isinstance(data, str):
        return True
    try:
        head = data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return head.isprintable() or all(c.isprintable() or c.isspace() for c in head)


def _ours(detail: str) -> str:
    # Message type names in protobuf's errors are ours (aotc.tf.X); users know them as X.
    return detail.replace("aotc.tf.", "")


def _parse_text(msg, data: bytes | str, source: str, kind: str) -> None:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise GraphFileError(
                f"'{source}' is not a text-format {kind}: it is not UTF-8 text "
                f"(byte {e.start}). Files named *{TEXT_SUFFIX} are read as text; "
                f"rename a binary {kind} to e.g. .pb"
            ) from None
    try:
        text_format.Parse(data, msg)
    except RecursionError:  # protobuf's text parser recurses once per nesting level
        raise GraphFileError(
            f"'{source}' is not a valid text-format {kind}: its messages are nested too "
            "deeply to parse"
        ) from None
    except text_format.ParseError as e:
        # str(e) is "line:column : what went wrong".
        raise GraphFileError(
            f"'{source}' is not a valid text-format {kind}: {_ours(str(e))}"
        ) from None


def _parse_binary(msg, data: bytes | str, source: str, kind: str) -> None:
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        msg.ParseFromString(data)
    except _message.DecodeError as e:
        raise GraphFileError(
            f"'{source}' is not a valid binary {kind} ({_ours(str(e))}); binary is assumed "
            f"because the name does not end in {TEXT_SUFFIX}"
        ) from None


def _unknown_top_level_fields(msg) -> list[int]:
    """Field numbers present on the wire that our schema does not know (top level only)."""
    try:
        from google.protobuf import unknown_fields
    except ImportError:  # very old runtimes: skip this heuristic
        return []
    return sorted({f.field_number for f in unknown_fields.UnknownFieldSet(msg)})


def _check_graph(graph: GraphDef, source: str) -> None:
    """Reject parses that succeeded by accident (e.g. a Config handed in as the graph)."""
    if not graph.node:
        raise GraphFileError(
            f"'{source}' holds a GraphDef with no nodes (an empty file?); expected a "
            "frozen graph"
        )
    for i, node in enumerate(graph.node):
        # Binary protobuf happily parses one message type as another when wire types
        # line up; what comes out then has empty or binary-looking names and ops.
        if not node.op or not node.name or not node.name.isprintable():
            raise GraphFileError(
                f"'{source}' does not look like a GraphDef: node #{i} has "
                f"name {node.name!r} and op {node.op!r}; expected a frozen graph (binary, "
                f"or text format named *{TEXT_SUFFIX})"
            )


def _check_config(config: Config, source: str) -> None:
    unknown = _unknown_top_level_fields(config)
    if unknown:
        raise GraphFileError(
            f"'{source}' does not look like a tf2xla Config: it contains field number(s) "
            f"{', '.join(map(str, unknown))}, which a Config does not have"
        )
    entries = [("feed", f.id.node_name) for f in config.feed]
    entries += [("fetch", f.id.node_name) for f in config.fetch]
    entries += [("variable", v.node_name) for v in config.variable]
    for kind, node_name in entries:
        if not node_name or not node_name.isprintable():
            raise GraphFileError(
                f"'{source}' does not look like a tf2xla Config: a {kind} has node name "
                f"{node_name!r}"
            )


_GRAPH = _Kind(GraphDef, "GraphDef", lambda msg, source: _check_graph(msg, source))
_CONFIG = _Kind(Config, "tf2xla Config", lambda msg, source: _check_config(msg, source))


# ---------------------------------------------------------------------------------------
# Data types

_DT = aotc_types_pb2

#: DataType -> the NumPy dtype of its elements (little-endian host order).
NUMPY_DTYPES: dict[int, np.dtype] = {
    _DT.DT_FLOAT: np.dtype(np.float32),
    _DT.DT_DOUBLE: np.dtype(np.float64),
    _DT.DT_HALF: np.dtype(np.float16),
    _DT.DT_INT8: np.dtype(np.int8),
    _DT.DT_INT16: np.dtype(np.int16),
    _DT.DT_INT32: np.dtype(np.int32),
    _DT.DT_INT64: np.dtype(np.int64),
    _DT.DT_UINT8: np.dtype(np.uint8),
    _DT.DT_UINT16: np.dtype(np.uint16),
    _DT.DT_UINT32: np.dtype(np.uint32),
    _DT.DT_UINT64: np.dtype(np.uint64),
    _DT.DT_BOOL: np.dtype(np.bool_),
    _DT.DT_COMPLEX64: np.dtype(np.complex64),
    _DT.DT_COMPLEX128: np.dtype(np.complex128),
}

#: Types with no NumPy equivalent, and why they are rejected.
_UNSUPPORTED_DTYPES: dict[int, str] = {
    _DT.DT_BFLOAT16: "NumPy has no bfloat16 type; aotc does not support bfloat16 yet",
    _DT.DT_STRING: "string tensors cannot be compiled",
    _DT.DT_RESOURCE: "resource handles are not values; list variables in the Config",
    _DT.DT_VARIANT: "variant tensors (TensorList, datasets, ...) cannot be compiled",
    **{
        getattr(_DT, name): "quantized types are not supported"
        for name in ("DT_QINT8", "DT_QUINT8", "DT_QINT16", "DT_QUINT16", "DT_QINT32")
    },
    **{
        getattr(_DT, name): "NumPy has no such type; aotc does not support it yet"
        for name in (
            "DT_FLOAT8_E5M2", "DT_FLOAT8_E4M3FN", "DT_FLOAT8_E4M3FNUZ",
            "DT_FLOAT8_E4M3B11FNUZ", "DT_FLOAT8_E5M2FNUZ", "DT_FLOAT4_E2M1FN",
            "DT_INT4", "DT_UINT4", "DT_INT2", "DT_UINT2",
        )
    },
}

_REF_OFFSET = 100  # DT_X_REF == DT_X + 100 for every X


def base_dtype(dtype: int) -> int:
    """Strip the `_REF` flavor from a DataType enum value."""
    return dtype - _REF_OFFSET if dtype > _REF_OFFSET else dtype


def dtype_name(dtype: int) -> str:
    """TensorFlow's enum name for a DataType value, e.g. 'DT_FLOAT' (or the number)."""
    try:
        return DataType.Name(dtype)
    except ValueError:
        return f"DataType({dtype})"


def numpy_dtype(dtype: int, where: str = "") -> np.dtype:
    """Map a DataType enum value to a NumPy dtype, or raise FrontendError.

    `where` (e.g. "attr 'T' of node 'x' (Cast)") is prefixed to the error message.
    """
    base = base_dtype(dtype)
    if base in NUMPY_DTYPES:
        return NUMPY_DTYPES[base]
    prefix = f"{where}: " if where else ""
    if base == _DT.DT_INVALID:
        raise FrontendError(f"{prefix}data type is not set (DT_INVALID)")
    reason = _UNSUPPORTED_DTYPES.get(base, "unknown data type")
    raise FrontendError(f"{prefix}data type {dtype_name(dtype)} is not supported: {reason}")


# ---------------------------------------------------------------------------------------
# Shapes and tensors


def shape_from_proto(shape) -> tuple[int, ...] | None:
    """TensorShapeProto -> tuple of dims (-1 where unknown), or None for unknown rank."""
    if shape.unknown_rank:
        return None
    return tuple(int(d.size) for d in shape.dim)


def _describe(what: str) -> str:
    return what or "tensor"


#: DataType -> the typed TensorProto field holding its elements, as long as the elements
#: are stored one per entry. HALF (16-bit patterns) and complex (pairs) need a fix-up,
#: see `_typed_values`.
_VALUE_FIELDS: dict[int, str] = {
    _DT.DT_FLOAT: "float_val",
    _DT.DT_DOUBLE: "double_val",
    _DT.DT_HALF: "half_val",
    _DT.DT_INT8: "int_val",
    _DT.DT_INT16: "int_val",
    _DT.DT_INT32: "int_val",
    _DT.DT_UINT8: "int_val",
    _DT.DT_UINT16: "int_val",
    _DT.DT_INT64: "int64_val",
    _DT.DT_UINT32: "uint32_val",
    _DT.DT_UINT64: "uint64_val",
    _DT.DT_BOOL: "bool_val",
    _DT.DT_COMPLEX64: "scomplex_val",
    _DT.DT_COMPLEX128: "dcomplex_val",
}


#: The largest constant tensor, 2 GiB: protobuf cannot serialize a bigger graph, so only a
#: splatted value (one value for a huge shape) gets there, and it would exhaust memory.
_MAX_CONSTANT_BYTES = 1 << 31


def tensor_to_numpy(tensor, what: str = "") -> np.ndarray:
    """Decode a TensorProto into a NumPy array of its dtype and shape.

    Handles `tensor_content` (raw little-endian bytes) and the typed `*_val` fields,
    including TensorFlow's compact form where fewer values than elements are stored and
    the last one repeats (a single value "splats" over the whole shape; no values at all
    means zeros). `what` names the tensor (e.g. "value of Const node 'w'") in errors.
    """
    label = _describe(what)
    dtype = numpy_dtype(tensor.dtype, label)
    shape = shape_from_proto(tensor.tensor_shape)
    if shape is None or any(d < 0 for d in shape):
        raise FrontendError(f"{label}: a constant tensor must have a fully defined shape")
    count = math.prod(shape)
    if count * dtype.itemsize > _MAX_CONSTANT_BYTES:
        raise FrontendError(f"{label}: shape {list(shape)} holds {count} elements, more than "
                            f"a constant can ({_MAX_CONSTANT_BYTES} bytes)")
    if tensor.tensor_content:
        flat = _from_content(tensor.tensor_content, dtype, count, label)
    else:
        flat = _expand(_typed_values(tensor, dtype), count, label)
    return flat.reshape(shape)


def _from_content(content: bytes, dtype: np.dtype, count: int, label: str) -> np.ndarray:
    expected = count * dtype.itemsize
    if len(content) != expected:
        raise FrontendError(
            f"{label}: tensor_content has {len(content)} bytes, expected {expected} "
            f"({count} x {dtype.name})"
        )
    # The wire format is little-endian; copy so the array owns writable memory.
    return np.frombuffer(content, dtype=dtype.newbyteorder("<")).astype(dtype)


def _typed_values(tensor, dtype: np.dtype) -> np.ndarray:
    base = base_dtype(tensor.dtype)
    values = getattr(tensor, _VALUE_FIELDS[base])
    if base == _DT.DT_HALF:
        # Each entry holds the 16-bit pattern of one float16.
        return np.array(values, dtype=np.uint16).view(np.float16)
    if dtype.kind == "c":
        parts = np.array(values, dtype=dtype.type(0).real.dtype).reshape(-1, 2)
        return (parts[:, 0] + 1j * parts[:, 1]).astype(dtype)
    return np.array(list(values), dtype=dtype)


def _expand(values: np.ndarray, count: int, label: str) -> np.ndarray:
    """Apply TensorFlow's padding rule: missing trailing values repeat the last one."""
    if len(values) == count:
        return values
    if len(values) > count:
        raise FrontendError(
            f"{label}: holds {len(values)} values but its shape has only {count} elements"
        )
    if len(values) == 0:
        return np.zeros(count, dtype=values.dtype)
    padding = np.full(count - len(values), values[-1], dtype=values.dtype)
    return np.concatenate([values, padding])


# ---------------------------------------------------------------------------------------
# Attributes

_MISSING = object()


def attr_value(node, name: str, default: Any = _MISSING) -> Any:
    """Read attr `name` of NodeDef `node` as a Python value.

    s -> str (bytes if not UTF-8), i -> int, f -> float, b -> bool, type -> numpy.dtype,
    shape -> tuple (-1 for unknown dims) or None for unknown rank, tensor -> numpy array,
    list -> list of those, func -> the NameAttrList message.
    If the attr is absent, return `default`, or raise FrontendError when none is given.
    """
    if name not in node.attr:
        if default is _MISSING:
            raise FrontendError(f"node '{node.name}' ({node.op}) has no attr '{name}'")
        return default
    where = f"attr '{name}' of node '{node.name}' ({node.op})"
    return _attr_to_python(node.attr[name], where)


def _decode_string(value: bytes) -> str | bytes:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value


#: AttrValue oneof case -> converter(value, where).
_SCALAR_CONVERTERS: dict[str, Callable[[Any, str], Any]] = {
    "s": lambda v, where: _decode_string(v),
    "i": lambda v, where: int(v),
    "f": lambda v, where: float(v),
    "b": lambda v, where: bool(v),
    "type": lambda v, where: numpy_dtype(v, where),
    "shape": lambda v, where: shape_from_proto(v),
    "tensor": lambda v, where: tensor_to_numpy(v, where),
    "func": lambda v, where: v,
}

#: ListValue fields, in the order they are checked (a list sets at most one).
_LIST_FIELDS = ("s", "i", "f", "b", "type", "shape", "tensor", "func")


def _attr_to_python(attr, where: str) -> Any:
    case = attr.WhichOneof("value")
    if case is None:
        raise FrontendError(f"{where} has no value")
    if case == "placeholder":
        # Only meaningful inside a function body before instantiation.
        raise FrontendError(
            f"{where} is an uninstantiated function attr placeholder ('{attr.placeholder}')"
        )
    if case == "list":
        return _list_to_python(attr.list, where)
    return _SCALAR_CONVERTERS[case](getattr(attr, case), where)


def _list_to_python(values, where: str) -> list:
    for field in _LIST_FIELDS:
        items = getattr(values, field)
        if len(items):
            convert = _SCALAR_CONVERTERS[field]
            return [convert(item, f"{where}[{k}]") for k, item in enumerate(items)]
    return []  # an empty list: its element kind is not recorded


def _self_check() -> None:
    """Keep the tables in step with the schema (cheap; runs at import)."""
    assert set(_VALUE_FIELDS) == set(NUMPY_DTYPES)
    assert set(_LIST_FIELDS) == {
        f.name for f in aotc_attr_value_pb2.AttrValue.ListValue.DESCRIPTOR.fields
    }


_self_check()
