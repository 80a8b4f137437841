"""The expansion of `fft`: a DFT along each transformed dimension as real dots with
constant cosine and sine matrices (computed in f64, rounded once to the component type).

For the modest lengths of inference graphs this is exact enough and simple: in f32 the
result's error is about n * 2^-24 relative to the input's magnitude summed along the
transformed axes. A dimension longer than MAX_FFT_LENGTH would need matrices of
n^2 elements each, and is an error.

FFT and IFFT transform every fft dimension (IFFT divides by n). RFFT transforms the last
dimension from real values to its n//2 + 1 non-negative frequencies, then the others as
FFT does. IRFFT undoes that: the other dimensions as IFFT, then the last one from its
n//2 + 1 bins, the missing ones being the conjugates of their mirror images (Hermitian
symmetry); the imaginary parts of bin 0 and (for even n) bin n/2 are ignored, as in XLA
and pocketfft.
"""

from __future__ import annotations

import numpy as np

from .expander import Expander, expansion, unsupported

#: The longest dimension the DFT expansion accepts (its two matrices hold n^2 values each).
MAX_FFT_LENGTH = 4096


def _angles(n_in: int, n_out: int, n: int) -> np.ndarray:
    """2 pi j k / n for input index j and output index k, with jk reduced mod n first, so
    that large products lose no precision."""
    jk = np.outer(np.arange(n_in), np.arange(n_out)) % n
    return 2 * np.pi * jk / n


def _along(x: Expander, value, matrix: np.ndarray, axis: int):
    """`value` with dimension `axis` contracted against `matrix`'s rows (the result's
    dimension at `axis` has matrix.shape[1] entries)."""
    m = x.b.constant(matrix.astype(value.shape.element_type.np_dtype))
    out = x.b.dot(value, m, lhs_contracting=[axis], rhs_contracting=[0])
    rank = out.shape.rank
    if axis == rank - 1:
        return out
    perm = [*range(axis), rank - 1, *range(axis, rank - 1)]
    return x.b.transpose(out, perm)


def _complex_dft(x: Expander, re, im, axis: int, inverse: bool):
    """The (inverse) DFT of re + i im along `axis`."""
    n = re.shape.dims[axis]
    angles = _angles(n, n, n)
    scale = 1.0 / n if inverse else 1.0
    cos, sin = np.cos(angles) * scale, np.sin(angles) * scale
    sign = "subtract" if inverse else "add"  # e^{-+i t} = cos t -+ i sin t
    out_re = x.op(sign, _along(x, re, cos, axis), _along(x, im, sin, axis))
    back = "add" if inverse else "subtract"
    out_im = x.op(back, _along(x, im, cos, axis), _along(x, re, sin, axis))
    return out_re, out_im


def _real_dft(x: Expander, value, axis: int, n: int):
    """The n//2 + 1 non-negative frequencies of real `value` along `axis`."""
    angles = _angles(n, n // 2 + 1, n)
    return (_along(x, value, np.cos(angles), axis),
            x.op("negate", _along(x, value, np.sin(angles), axis)))


def _hermitian_inverse(x: Expander, re, im, axis: int, n: int):
    """The real signal of length n whose spectrum's first n//2 + 1 bins are re + i im."""
    bins = n // 2 + 1
    weights = np.full(bins, 2.0)
    weights[0] = 1.0
    if n % 2 == 0:
        weights[-1] = 1.0
    angles = _angles(bins, n, n)
    cos = np.cos(angles) * weights[:, None] / n
    sin = np.sin(angles) * weights[:, None] / n
    sin[0] = 0.0  # bins 0 and n/2 have no imaginary part in a real signal's spectrum
    if n % 2 == 0:
        sin[-1] = 0.0
    return x.op("subtract", _along(x, re, cos, axis), _along(x, im, sin, axis))


@expansion("fft")
def _fft(x: Expander, inst, ops):
    lengths = tuple(inst.attrs["fft_length"])
    kind = inst.attrs["fft_type"]
    if max(lengths) > MAX_FFT_LENGTH:
        raise unsupported(inst, f"fft_length {list(lengths)} exceeds {MAX_FFT_LENGTH}, the "
                                f"longest transform aotc expands into matrix products")
    rank = inst.shape.rank
    axes = list(range(rank - len(lengths), rank))
    if kind == "RFFT":
        re, im = _real_dft(x, ops[0], axes[-1], lengths[-1])
        for axis in axes[:-1]:
            re, im = _complex_dft(x, re, im, axis, inverse=False)
        return x.join(re, im)
    re, im = x.parts(ops[0])
    outer = axes[:-1] if kind == "IRFFT" else axes
    for axis in outer:
        re, im = _complex_dft(x, re, im, axis, inverse=kind != "FFT")
    if kind == "IRFFT":
        return _hermitian_inverse(x, re, im, axes[-1], lengths[-1])
    return x.join(re, im)
