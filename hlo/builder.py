"""A builder for computations, with shape inference (in the spirit of XLA's XlaBuilder).

    b = Builder("main")
    x = b.parameter(Shape.array("f32", [2, 3]), "x")
    y = b.parameter(Shape.array("f32", [3, 2]), "y")
    b.dot(x, y, lhs_contracting=[1], rhs_contracting=[0])
    module = b.module()        # the last instruction built is the root unless one is given

Every method returns the new Instruction. Operands must already have equal shapes where XLA
requires it: broadcasting is explicit (`broadcast_to` does the NumPy-style version).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .dtypes import DType, dtype as _dtype, from_numpy
from .ir import Computation, Instruction, Module
from .shape import Shape
from .shape_rules import infer_shape
from .window import ConvDimensionNumbers, Window


class Builder:
    """Builds one computation; `module()` wraps it (and its callees) in a Module."""

    def __init__(self, name: str = "main"):
        self.computation = Computation(name)
        self._params = 0
        self.metadata: dict = {}  # attached to every instruction built while set

    # -- generic -----------------------------------------------------------------------

    def add(self, opcode: str, operands: Sequence[Instruction], attrs: dict | None = None,
            called: Sequence[Computation] = (), shape: Shape | None = None,
            name: str | None = None) -> Instruction:
        """Add an instruction, inferring its shape unless one is given."""
        attrs = dict(attrs or {})
        if shape is None:
            shape = infer_shape(opcode, [o.shape for o in operands], attrs, called)
        inst = Instruction(opcode, shape, operands, attrs, called, name=name,
                           metadata=self.metadata)
        return self.computation.add(inst)

    def build(self, root: Instruction | None = None) -> Computation:
        """Finish the computation with `root` (default: the last instruction added)."""
        self.computation.root = root if root is not None else self.computation.instructions[-1]
        return self.computation

    def module(self, root: Instruction | None = None, name: str | None = None) -> Module:
        comp = self.build(root)
        return Module(name or comp.name, comp)

    # -- leaves ------------------------------------------------------------------------

    def parameter(self, shape: Shape, name: str | None = None) -> Instruction:
        number = self._params
        self._params += 1
        return self.add("parameter", [], {"parameter_number": number}, shape=shape, name=name)

    def constant(self, value, element_type: DType | str | None = None) -> Instruction:
        """A constant from a NumPy array or Python scalar (type from the value by default)."""
        if element_type is not None:
            t = _dtype(element_type)
            array = np.array(value, dtype=t.np_dtype, order="C")
        else:
            array = np.array(value, order="C")
            t = from_numpy(array.dtype)
        # np.ascontiguousarray would turn a 0-d scalar into shape (1,); np.array keeps it.
        return self.add("constant", [], {"literal": array}, shape=Shape(t, array.shape))

    def scalar(self, value, element_type: DType | str) -> Instruction:
        return self.constant(value, element_type)

    def iota(self, shape: Shape, dimension: int) -> Instruction:
        return self.add("iota", [], {"iota_dimension": dimension}, shape=shape)

    # -- elementwise -------------------------------------------------------------------

    def unary(self, opcode: str, x: Instruction) -> Instruction:
        return self.add(opcode, [x])

    def binary(self, opcode: str, x: Instruction, y: Instruction) -> Instruction:
        return self.add(opcode, [x, y])

    def compare(self, x: Instruction, y: Instruction, direction: str) -> Instruction:
        return self.add("compare", [x, y], {"direction": direction})

    def select(self, pred: Instruction, on_true: Instruction, on_false: Instruction) -> Instruction:
        return self.add("select", [pred, on_true, on_false])

    def clamp(self, low: Instruction, x: Instruction, high: Instruction) -> Instruction:
        return self.add("clamp", [low, x, high])

    def convert(self, x: Instruction, element_type: DType | str) -> Instruction:
        t = _dtype(element_type)
        return self.add("convert", [x], shape=Shape(t, x.shape.dims))

    def bitcast_convert(self, x: Instruction, element_type: DType | str) -> Instruction:
        """XLA BitcastConvertType: the bits of `x` as `element_type` (a narrower type adds a
        minor dimension, a wider one consumes it)."""
        shape = infer_shape("bitcast-convert", [x.shape],
                            {"new_element_type": _dtype(element_type)}, ())
        return self.add("bitcast-convert", [x], shape=shape)

    # -- data movement -----------------------------------------------------------------

    def broadcast(self, x: Instruction, result_dims: Sequence[int],
                  dimensions: Sequence[int]) -> Instruction:
        """XLA broadcast: operand dim i becomes result dim dimensions[i]."""
        attrs = {"dimensions": tuple(dimensions)}
        shape = infer_shape("broadcast", [x.shape], {**attrs, "result_dims": tuple(result_dims)})
        return self.add("broadcast", [x], attrs, shape=shape)

    def broadcast_to(self, x: Instruction, result_dims: Sequence[int]) -> Instruction:
        """NumPy-style broadcast of `x` to `result_dims` (trailing dims aligned).

        Size-1 dims that must grow are reshaped away first, since XLA's broadcast maps each
        operand dim to an equal-sized result dim.
        """
        result_dims = tuple(result_dims)
        if x.shape.dims == result_dims:
            return x
        offset = len(result_dims) - x.shape.rank
        if offset < 0:
            raise ValueError(f"cannot broadcast {x.shape.short()} to {list(result_dims)}")
        kept = []
        for i, d in enumerate(x.shape.dims):
            if d == result_dims[offset + i]:
                kept.append(i)
            elif d != 1:
                raise ValueError(f"cannot broadcast {x.shape.short()} to {list(result_dims)}")
        if len(kept) != x.shape.rank:
            x = self.reshape(x, [x.shape.dims[i] for i in kept])
        return self.broadcast(x, result_dims, [offset + i for i in kept])

    def reshape(self, x: Instruction, result_dims: Sequence[int]) -> Instruction:
        if tuple(result_dims) == x.shape.dims:
            return x
        shape = infer_shape("reshape", [x.shape], {"result_dims": tuple(result_dims)})
        return self.add("reshape", [x], shape=shape)

    def transpose(self, x: Instruction, permutation: Sequence[int]) -> Instruction:
        return self.add("transpose", [x], {"dimensions": tuple(permutation)})

    def reverse(self, x: Instruction, dimensions: Sequence[int]) -> Instruction:
        return self.add("reverse", [x], {"dimensions": tuple(dimensions)})

    def slice(self, x: Instruction, starts: Sequence[int], limits: Sequence[int],
              strides: Sequence[int] | None = None) -> Instruction:
        strides = strides or [1] * len(starts)
        spec = tuple((int(a), int(b), int(c)) for a, b, c in zip(starts, limits, strides))
        return self.add("slice", [x], {"slice": spec})

    def pad(self, x: Instruction, value: Instruction, padding) -> Instruction:
        spec = tuple((int(lo), int(hi), int(interior)) for lo, hi, interior in padding)
        return self.add("pad", [x, value], {"padding": spec})

    def concatenate(self, operands: Sequence[Instruction], axis: int) -> Instruction:
        return self.add("concatenate", list(operands), {"dimensions": (axis,)})

    # -- contractions and reductions ---------------------------------------------------

    def dot(self, lhs: Instruction, rhs: Instruction, *, lhs_contracting=(), rhs_contracting=(),
            lhs_batch=(), rhs_batch=()) -> Instruction:
        attrs = {
            "lhs_batch_dims": tuple(lhs_batch),
            "rhs_batch_dims": tuple(rhs_batch),
            "lhs_contracting_dims": tuple(lhs_contracting),
            "rhs_contracting_dims": tuple(rhs_contracting),
        }
        return self.add("dot", [lhs, rhs], attrs)

    def reduce(self, x: Instruction, init: Instruction, dimensions: Sequence[int],
               reducer: Computation) -> Instruction:
        return self.add("reduce", [x, init], {"dimensions": tuple(sorted(dimensions))},
                        called=[reducer])

    def convolution(self, lhs: Instruction, rhs: Instruction, window: Window,
                    dim_labels: ConvDimensionNumbers | str, *,
                    feature_group_count: int = 1) -> Instruction:
        """XLA convolution of input `lhs` with kernel `rhs`; `window` has one WindowDim per
        spatial dimension (see hlo/window.py), `dim_labels` e.g. "b01f_01io->b01f"."""
        if isinstance(dim_labels, str):
            dim_labels = ConvDimensionNumbers.from_labels(dim_labels)
        attrs = {"window": tuple(window), "dim_labels": dim_labels,
                 "feature_group_count": int(feature_group_count), "batch_group_count": 1}
        return self.add("convolution", [lhs, rhs], attrs)

    def reduce_window(self, x: Instruction, init: Instruction, window: Window,
                      reducer: Computation) -> Instruction:
        """Reduce each window of `x` (one WindowDim per dimension of x) with `reducer`."""
        return self.add("reduce-window", [x, init], {"window": tuple(window)}, called=[reducer])

    # -- indexing (semantics: hlo/indexing.py) ---------------------------------------

    def gather(self, operand: Instruction, indices: Instruction, *, offset_dims: Sequence[int],
               collapsed_slice_dims: Sequence[int], start_index_map: Sequence[int],
               index_vector_dim: int, slice_sizes: Sequence[int],
               indices_are_sorted: bool = False) -> Instruction:
        """XLA Gather: a slice of `slice_sizes` at each index vector of `indices`."""
        attrs = {"offset_dims": tuple(offset_dims),
                 "collapsed_slice_dims": tuple(collapsed_slice_dims),
                 "start_index_map": tuple(start_index_map),
                 "index_vector_dim": int(index_vector_dim),
                 "slice_sizes": tuple(int(s) for s in slice_sizes),
                 "indices_are_sorted": bool(indices_are_sorted)}
        return self.add("gather", [operand, indices], attrs)

    def scatter(self, operand: Instruction, indices: Instruction, updates: Instruction,
                update_computation: Computation, *, update_window_dims: Sequence[int],
                inserted_window_dims: Sequence[int],
                scatter_dims_to_operand_dims: Sequence[int], index_vector_dim: int,
                indices_are_sorted: bool = False, unique_indices: bool = False) -> Instruction:
        """XLA Scatter: `operand` with each update combined in by `update_computation`."""
        attrs = {"update_window_dims": tuple(update_window_dims),
                 "inserted_window_dims": tuple(inserted_window_dims),
                 "scatter_dims_to_operand_dims": tuple(scatter_dims_to_operand_dims),
                 "index_vector_dim": int(index_vector_dim),
                 "indices_are_sorted": bool(indices_are_sorted),
                 "unique_indices": bool(unique_indices)}
        return self.add("scatter", [operand, indices, updates], attrs,
                        called=[update_computation])

    def dynamic_slice(self, operand: Instruction, starts: Sequence[Instruction],
                      sizes: Sequence[int]) -> Instruction:
        """A `sizes` slice at run-time `starts` (scalars, clamped so the slice fits)."""
        return self.add("dynamic-slice", [operand, *starts],
                        {"dynamic_slice_sizes": tuple(int(s) for s in sizes)})

    def dynamic_update_slice(self, operand: Instruction, update: Instruction,
                             starts: Sequence[Instruction]) -> Instruction:
        """`operand` with `update` written at run-time `starts` (clamped so it fits)."""
        return self.add("dynamic-update-slice", [operand, update, *starts])

    def sort(self, operands: Sequence[Instruction], dimension: int, comparator: Computation,
             is_stable: bool = False) -> Instruction:
        """Sort `operands` together along `dimension` by `comparator` (2n scalars -> pred);
        one operand gives an array, several a tuple."""
        attrs = {"dimensions": (int(dimension),), "is_stable": bool(is_stable)}
        return self.add("sort", list(operands), attrs, called=[comparator])

    # -- tuples and calls --------------------------------------------------------------

    def tuple(self, elements: Sequence[Instruction]) -> Instruction:
        return self.add("tuple", list(elements))

    def get_tuple_element(self, x: Instruction, index: int) -> Instruction:
        return self.add("get-tuple-element", [x], {"index": index})

    def call(self, computation: Computation, operands: Sequence[Instruction]) -> Instruction:
        return self.add("call", list(operands), called=[computation])

    # -- control flow ------------------------------------------------------------------

    def while_loop(self, condition: Computation, body: Computation,
                   init: Instruction) -> Instruction:
        """XLA While: run `body` on the tuple `init` until `condition` returns false."""
        return self.add("while", [init], called=[condition, body])

    def conditional(self, selector: Instruction, operands: Sequence[Instruction],
                    branches: Sequence[Computation]) -> Instruction:
        """XLA Conditional: branch k applied to operands[k], chosen by `selector` (pred:
        branches are [true, false]; s32: out-of-range picks the last branch)."""
        return self.add("conditional", [selector, *operands], called=list(branches))


def scalar_computation(opcode: str, element_type: DType | str, name: str | None = None) -> Computation:
    """A two-parameter scalar computation applying `opcode`, e.g. a reducer for `add`."""
    t = _dtype(element_type)
    b = Builder(name or f"{opcode}_{t.name}")
    # Instruction names are module-wide (the verifier checks) and a module may hold several
    # such computations, so the parameter names carry a unique suffix.
    suffix = next(Instruction._ids)
    lhs = b.parameter(Shape(t), f"lhs.{suffix}")
    rhs = b.parameter(Shape(t), f"rhs.{suffix}")
    b.binary(opcode, lhs, rhs)
    return b.build()



def sort_comparator(element_types: Sequence[DType | str], direction: str = "LT",
                    name: str | None = None) -> Computation:
    """A sort comparator over operands of `element_types` that orders by the first operand
    alone (`compare(lhs_0, rhs_0, direction)`; LT ascending, GT descending); the other
    operands are payload that moves along."""
    types = [_dtype(t) for t in element_types]
    b = Builder(name or f"compare_{direction.lower()}_{types[0].name}")
    suffix = next(Instruction._ids)  # module-wide unique parameter names, as above
    params = [b.parameter(Shape(t), f"{side}_{k}.{suffix}")
              for k, t in enumerate(types) for side in ("lhs", "rhs")]
    b.compare(params[0], params[1], direction)
    return b.build()
