"""Evaluator rules for XLA's complex-number ops: `complex`, `real`, `imag` and `fft`
(NumPy's pocketfft in f64, rounded once to the result type). The elementwise ops on
complex values are NumPy's own (elementwise.py)."""

from __future__ import annotations

import numpy as np

from .interpreter import rule


@rule("complex")
def _complex(inst, ops):
    re, im = ops
    out = np.empty(re.shape, inst.shape.element_type.np_dtype)
    out.real, out.imag = re, im
    return out


@rule("real")
def _real(inst, ops):
    return np.real(ops[0]).astype(inst.shape.element_type.np_dtype)


@rule("imag")
def _imag(inst, ops):
    (z,) = ops
    if z.dtype.kind != "c":  # imag of a real value is zero, as in XLA
        return np.zeros_like(z)
    return np.imag(z).astype(inst.shape.element_type.np_dtype)


#: fft_type -> fn(x, fft lengths, axes). IRFFT drops the imaginary parts of bin 0 and of
#: bin n/2 (for even n), as pocketfft and XLA do: a real signal's spectrum has none there.
_TRANSFORMS = {
    "FFT": lambda x, s, axes: np.fft.fftn(x, axes=axes),
    "IFFT": lambda x, s, axes: np.fft.ifftn(x, axes=axes),
    "RFFT": lambda x, s, axes: np.fft.rfftn(x, s=s, axes=axes),
    "IRFFT": lambda x, s, axes: np.fft.irfftn(x, s=s, axes=axes),
}


@rule("fft")
def _fft(inst, ops):
    (x,) = ops
    lengths = list(inst.attrs["fft_length"])
    axes = list(range(x.ndim - len(lengths), x.ndim))
    target = inst.shape.element_type.np_dtype
    if x.size == 0 or inst.shape.num_elements == 0:
        return np.zeros(inst.shape.dims, target)
    wide = x.astype(np.complex128 if x.dtype.kind == "c" else np.float64)
    return _TRANSFORMS[inst.attrs["fft_type"]](wide, lengths, axes).astype(target)
