"""Complex numbers: Complex, Real, Imag, Conj, Angle, ComplexAbs, ConjugateTranspose and
the FFT family (FFT, IFFT, RFFT, IRFFT in 1, 2 and 3 dimensions), lowered to XLA's
`complex`, `real`, `imag`, `abs` and `fft` as tf2xla does. RFFT and IRFFT first crop the
transformed dimensions of their input to what `fft_length` needs.
"""

from __future__ import annotations

import numpy as np

from .array import transpose
from .registry import lowering, single


def conjugate(b, x):
    """x with its imaginary part negated; real values are their own conjugates."""
    if not x.shape.element_type.is_complex:
        return x
    return b.add("complex", [b.add("real", [x]), b.unary("negate", b.add("imag", [x]))])


@lowering("Complex")
def _complex(ctx, node, inputs):
    re, im = ctx.broadcast_pair(node, *inputs)
    z = ctx.b.add("complex", [re, im])
    target = ctx.dtype(node, "Tout", np.complex64)
    return z if z.shape.element_type == target else ctx.b.convert(z, target)


def _part_rule(opcode):
    def rule(ctx, node, inputs):
        return ctx.b.add(opcode, [single(inputs)])

    rule.__doc__ = f"Lower to XLA's `{opcode}`."
    return rule


lowering("Real")(_part_rule("real"))
lowering("Imag")(_part_rule("imag"))
lowering("ComplexAbs")(_part_rule("abs"))


@lowering("Conj")
def _conj(ctx, node, inputs):
    return conjugate(ctx.b, single(inputs))


@lowering("Angle")
def _angle(ctx, node, inputs):
    z = single(inputs)
    return ctx.b.binary("atan2", ctx.b.add("imag", [z]), ctx.b.add("real", [z]))


@lowering("ConjugateTranspose")
def _conjugate_transpose(ctx, node, inputs):
    return conjugate(ctx.b, transpose(ctx, node, inputs))


#: TF op -> (fft_type, number of transformed dimensions).
_FFTS = {
    "FFT": ("FFT", 1), "FFT2D": ("FFT", 2), "FFT3D": ("FFT", 3),
    "IFFT": ("IFFT", 1), "IFFT2D": ("IFFT", 2), "IFFT3D": ("IFFT", 3),
    "RFFT": ("RFFT", 1), "RFFT2D": ("RFFT", 2), "RFFT3D": ("RFFT", 3),
    "IRFFT": ("IRFFT", 1), "IRFFT2D": ("IRFFT", 2), "IRFFT3D": ("IRFFT", 3),
}


def _crop(ctx, node, x, dims):
    """x cropped so that its trailing dimensions are `dims`; shorter is an error, as in
    TensorFlow (tf.signal pads before it calls the op)."""
    lead = x.shape.dims[: x.shape.rank - len(dims)]
    have = x.shape.dims[len(lead):]
    for k, (h, d) in enumerate(zip(have, dims)):
        if h < d:
            ctx.error(node, f"input dimension {len(lead) + k} must have length of at least "
                            f"{d} for fft_length, got {h} (input {x.shape.short()})")
    if have == tuple(dims):
        return x
    return ctx.b.slice(x, [0] * x.shape.rank, [*lead, *dims])


def _fft_rule(fft_type, rank):
    def rule(ctx, node, inputs):
        x = inputs[0]
        if x.shape.rank < rank:
            ctx.error(node, f"input must have rank >= {rank}, got {x.shape.short()}")
        if fft_type in ("FFT", "IFFT"):
            lengths = list(x.shape.dims[x.shape.rank - rank:])
        else:
            lengths = ctx.static_ints(node, inputs[1], "fft_length")
            if len(lengths) != rank or any(n < 1 for n in lengths):
                ctx.error(node, f"fft_length must hold {rank} positive lengths, got {lengths}")
            want = lengths if fft_type == "RFFT" else [*lengths[:-1], lengths[-1] // 2 + 1]
            x = _crop(ctx, node, x, want)
        out = ctx.b.add("fft", [x], {"fft_type": fft_type, "fft_length": tuple(lengths)})
        target = ctx.dtype(node, {"RFFT": "Tcomplex", "IRFFT": "Treal"}.get(fft_type, "Tcomplex"),
                           out.shape.element_type.np_dtype)
        return out if out.shape.element_type == target else ctx.b.convert(out, target)

    rule.__doc__ = f"Lower to XLA's fft (fft_type={fft_type}) over the last {rank} dims."
    return rule


for _op, (_type, _rank) in _FFTS.items():
    lowering(_op)(_fft_rule(_type, _rank))
