"""Shapes: an element type, dimensions and a minor-to-major layout; or a tuple of shapes.

Printed as in XLA: `f32[2,3]{1,0}` (layout shown for arrays of rank >= 1), `s32[]`,
`(f32[2]{0}, pred[])`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


from .dtypes import DType, dtype as _dtype


#: The largest byte size of an array: sizes and offsets are int64 everywhere downstream.
MAX_BYTES = (1 << 63) - 1


class ShapeError(ValueError):
    """Operands or attributes that no valid instruction could have, or an impossible
    shape (a negative dimension, a size beyond int64)."""


@dataclass(frozen=True)
class Shape:
    """An array shape (`element_type`, `dims`, `layout`) or a tuple shape (`tuple_shapes`).

    `layout` is minor-to-major: `layout[0]` is the dimension whose index varies fastest in
    memory. The default is row-major, (rank-1, ..., 0).
    """

    element_type: DType | None
    dims: tuple[int, ...] = ()
    layout: tuple[int, ...] | None = None
    tuple_shapes: tuple["Shape", ...] | None = None

    def __post_init__(self):
        if self.tuple_shapes is not None:
            return
        object.__setattr__(self, "element_type", _dtype(self.element_type))
        object.__setattr__(self, "dims", tuple(int(d) for d in self.dims))
        if any(d < 0 for d in self.dims):
            raise ShapeError(f"negative dimension in shape {list(self.dims)}")
        if math.prod(self.dims) * self.element_type.byte_size > MAX_BYTES:
            raise ShapeError(f"shape {self.element_type.name}{list(self.dims)} has more than "
                             f"{MAX_BYTES} bytes")
        if self.layout is None:
            object.__setattr__(self, "layout", tuple(range(len(self.dims) - 1, -1, -1)))
        else:
            object.__setattr__(self, "layout", tuple(int(d) for d in self.layout))
            if sorted(self.layout) != list(range(len(self.dims))):
                raise ValueError(f"layout {self.layout} is not a permutation for rank {len(self.dims)}")

    # -- constructors ------------------------------------------------------------------

    @staticmethod
    def array(element_type, dims=(), layout=None) -> "Shape":
        return Shape(_dtype(element_type), tuple(dims), layout)

    @staticmethod
    def tuple(shapes) -> "Shape":
        return Shape(None, (), None, tuple(shapes))

    # -- queries -----------------------------------------------------------------------

    @property
    def is_tuple(self) -> bool:
        return self.tuple_shapes is not None

    @property
    def rank(self) -> int:
        return len(self.dims)

    @property
    def num_elements(self) -> int:
        return math.prod(self.dims)

    @property
    def byte_size(self) -> int:
        """Bytes of an array shape's dense buffer (tuples own no element storage)."""
        if self.is_tuple:
            return 0
        return self.num_elements * self.element_type.byte_size

    @property
    def is_row_major(self) -> bool:
        return self.layout == tuple(range(self.rank - 1, -1, -1))

    def with_dims(self, dims) -> "Shape":
        return Shape(self.element_type, tuple(dims))

    def with_type(self, element_type) -> "Shape":
        return Shape(_dtype(element_type), self.dims, self.layout)

    def with_layout(self, layout) -> "Shape":
        return Shape(self.element_type, self.dims, tuple(layout))

    def same_array(self, other: "Shape") -> bool:
        """Equal element type and dims, ignoring layout (XLA's ShapeUtil::Compatible)."""
        if self.is_tuple or other.is_tuple:
            return self.is_tuple and other.is_tuple and len(self.tuple_shapes) == len(
                other.tuple_shapes
            ) and all(a.same_array(b) for a, b in zip(self.tuple_shapes, other.tuple_shapes))
        return self.element_type == other.element_type and self.dims == other.dims

    def __str__(self) -> str:
        if self.is_tuple:
            return "(" + ", ".join(str(s) for s in self.tuple_shapes) + ")"
        text = f"{self.element_type.name}[{','.join(str(d) for d in self.dims)}]"
        if self.rank:
            text += "{" + ",".join(str(d) for d in self.layout) + "}"
        return text

    def short(self) -> str:
        """Shape text without the layout, e.g. `f32[2,3]`."""
        if self.is_tuple:
            return "(" + ", ".join(s.short() for s in self.tuple_shapes) + ")"
        return f"{self.element_type.name}[{','.join(str(d) for d in self.dims)}]"
