"""Shape rules for XLA's complex-number ops: `complex`, `real`, `imag` and `fft`."""

from __future__ import annotations

from ..dtypes import DTYPES
from ..opcodes import FFT_TYPES
from ..shape import Shape
from .inference import require, rule


def complex_type(real):
    """The complex type whose parts are `real` (f32 -> c64, f64 -> c128)."""
    return DTYPES[f"c{2 * real.bits}"]


@rule("complex")
def _complex(opcode, shapes, attrs, called):
    re, im = shapes
    require(re.same_array(im), f"complex parts differ: {re.short()} and {im.short()}")
    require(re.element_type.name in ("f32", "f64"),
            f"complex needs f32 or f64 parts, got {re.element_type}")
    return Shape(complex_type(re.element_type), re.dims)


@rule("real", "imag")
def _part(opcode, shapes, attrs, called):
    (z,) = shapes
    require(not z.is_tuple, f"{opcode} operand is a tuple")
    return Shape(z.element_type.component, z.dims)  # the identity on real values, as in XLA


@rule("fft")
def _fft(opcode, shapes, attrs, called):
    (x,) = shapes
    kind, lengths = attrs.get("fft_type"), tuple(attrs.get("fft_length", ()))
    require(kind in FFT_TYPES, f"fft_type must be one of {FFT_TYPES}, got {kind!r}")
    require(1 <= len(lengths) <= 3 and len(lengths) <= x.rank,
            f"fft_length {list(lengths)} must name 1 to 3 of the {x.rank} dimensions")
    inner = x.dims[x.rank - len(lengths):]
    t = x.element_type
    if kind == "RFFT":
        require(t.name in ("f32", "f64"), f"RFFT needs an f32 or f64 operand, got {t}")
        require(inner == lengths, f"RFFT operand {x.short()} does not end in fft_length "
                                  f"{list(lengths)}")
        return Shape(complex_type(t), x.dims[:-1] + (lengths[-1] // 2 + 1,))
    require(t.is_complex, f"{kind} needs a complex operand, got {t}")
    if kind == "IRFFT":
        want = lengths[:-1] + (lengths[-1] // 2 + 1,)
        require(inner == want, f"IRFFT operand {x.short()} must end in {list(want)} for "
                               f"fft_length {list(lengths)}")
        return Shape(t.component, x.dims[:-1] + (lengths[-1],))
    require(inner == lengths, f"{kind} operand {x.short()} does not end in fft_length "
                              f"{list(lengths)}")
    return Shape(t, x.dims)
