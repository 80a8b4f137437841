"""Element types of the IR, named as in XLA's HLO text (f32, s32, pred, ...).

One table describes every type; everything else (the parser, the evaluator, the backends)
looks types up here instead of switching on names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DType:
    """An element type: its HLO name, size and the NumPy type the evaluator computes in.

    `numpy` is None for types NumPy cannot represent exactly (bf16); such types can flow
    through the compiler but the evaluator rejects them.
    """

    name: str
    bits: int
    kind: str  # "pred", "sint", "uint", "float" or "complex"
    numpy: type | None

    @property
    def is_float(self) -> bool:
        return self.kind == "float"

    @property
    def is_complex(self) -> bool:
        """c64/c128: a (real, imaginary) pair of f32/f64, in that order in memory."""
        return self.kind == "complex"

    @property
    def component(self) -> "DType":
        """The real type of a complex type's parts (c64 -> f32); itself otherwise."""
        return DTYPES[f"f{self.bits // 2}"] if self.is_complex else self

    @property
    def is_integer(self) -> bool:
        return self.kind in ("sint", "uint")

    @property
    def is_signed(self) -> bool:
        return self.kind in ("sint", "float", "complex")

    @property
    def is_pred(self) -> bool:
        return self.kind == "pred"

    @property
    def byte_size(self) -> int:
        return max(self.bits // 8, 1)

    @property
    def np_dtype(self) -> np.dtype:
        if self.numpy is None:
            raise TypeError(f"element type {self.name} has no NumPy equivalent")
        return np.dtype(self.numpy)

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"DType({self.name})"


_TABLE = [
    DType("pred", 8, "pred", np.bool_),
    DType("s8", 8, "sint", np.int8),
    DType("s16", 16, "sint", np.int16),
    DType("s32", 32, "sint", np.int32),
    DType("s64", 64, "sint", np.int64),
    DType("u8", 8, "uint", np.uint8),
    DType("u16", 16, "uint", np.uint16),
    DType("u32", 32, "uint", np.uint32),
    DType("u64", 64, "uint", np.uint64),
    DType("f16", 16, "float", np.float16),
    DType("bf16", 16, "float", None),
    DType("f32", 32, "float", np.float32),
    DType("f64", 64, "float", np.float64),
    # XLA's complex types; passes/complex_expansion.py turns them into f32/f64 pairs
    # before any backend sees them.
    DType("c64", 64, "complex", np.complex64),
    DType("c128", 128, "complex", np.complex128),
]

#: HLO name -> DType, e.g. DTYPES["f32"].
DTYPES: dict[str, DType] = {t.name: t for t in _TABLE}

PRED = DTYPES["pred"]
S8, S16, S32, S64 = (DTYPES[n] for n in ("s8", "s16", "s32", "s64"))
U8, U16, U32, U64 = (DTYPES[n] for n in ("u8", "u16", "u32", "u64"))
F16, BF16, F32, F64 = (DTYPES[n] for n in ("f16", "bf16", "f32", "f64"))
C64, C128 = DTYPES["c64"], DTYPES["c128"]

_BY_NUMPY = {np.dtype(t.numpy): t for t in _TABLE if t.numpy is not None}


def from_numpy(dtype) -> DType:
    """The DType of a NumPy dtype (or anything np.dtype accepts)."""
    try:
        return _BY_NUMPY[np.dtype(dtype)]
    except (KeyError, TypeError):
        raise TypeError(f"no HLO element type for NumPy dtype {dtype!r}") from None


def dtype(name: str | DType) -> DType:
    """Look a DType up by HLO name; DTypes pass through."""
    if isinstance(name, DType):
        return name
    try:
        return DTYPES[name]
    except KeyError:
        raise TypeError(f"unknown element type {name!r}") from None
