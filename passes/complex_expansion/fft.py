"""The expansion of `fft`: a DFT along each transformed dimension as one real dot with a
constant matrix of cosines and sines (computed in f64, rounded once to the component
type) that contracts the dimension together with the (real, imaginary) pair dimension.

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

#: The longest dimension the DFT expansion accepts (its matrix holds 4 n^2 values).
MAX_FFT_LENGTH = 4096


def _angles(n_in: int, n_out: int, n: int) -> np.ndarray:
    """2 pi j k / n for input index j and output index k, with jk reduced mod n first, so
    that large products lose no precision."""
    jk = np.outer(np.arange(n_in), np.arange(n_out)) % n
    return 2 * np.pi * jk / n


def _contract(x: Expander, value, matrix: np.ndarray, axis: int, pairs: bool):
    """`value` with dimension `axis` (and, for `pairs`, the trailing pair dimension too)
    contracted against the leading dimension(s) of `matrix`; the matrix's remaining
    dimensions take `axis`'s place (the first) and the end (a second one, a pair)."""
    m = x.b.constant(matrix.astype(value.shape.element_type.np_dtype))
    rank = value.shape.rank
    lhs = [axis, rank - 1] if pairs else [axis]
    rhs = [0, 1] if pairs else [0]
    out = x.b.dot(value, m, lhs_contracting=lhs, rhs_contracting=rhs)
    kept = rank - len(lhs)  # free dims of value, then the matrix's free dims
    extra = out.shape.rank - kept - 1  # 1 when the matrix also yields a pair dim
    perm = [*range(axis), kept, *range(axis, kept), *range(kept + 1, kept + 1 + extra)]
    return out if perm == list(range(out.shape.rank)) else x.b.transpose(out, perm)


def _complex_dft(x: Expander, pairs, axis: int, inverse: bool):
    """The (inverse) DFT along `axis` of expanded complex values: one dot with a real
    [n, 2, n, 2] matrix, since (re + i im)(cos -+ i sin) mixes the parts linearly."""
    n = pairs.shape.dims[axis]
    angles = _angles(n, n, n)
    scale = 1.0 / n if inverse else 1.0
    cos, sin = np.cos(angles) * scale, np.sin(angles) * scale
    sign = 1.0 if inverse else -1.0  # e^{+-i t} = cos t +- i sin t
    m = np.empty((n, 2, n, 2))
    m[:, 0, :, 0], m[:, 1, :, 0] = cos, -sign * sin  # re = re cos - (+-) im sin
    m[:, 0, :, 1], m[:, 1, :, 1] = sign * sin, cos   # im = im cos + (+-) re sin
    return _contract(x, pairs, m, axis, pairs=True)


def _real_dft(x: Expander, value, axis: int, n: int):
    """The n//2 + 1 non-negative frequencies of real `value` along `axis`, as pairs."""
    angles = _angles(n, n // 2 + 1, n)
    return _contract(x, value, np.stack([np.cos(angles), -np.sin(angles)], axis=-1), axis,
                     pairs=False)


def _hermitian_inverse(x: Expander, pairs, axis: int, n: int):
    """The real signal of length n whose spectrum's first n//2 + 1 bins are `pairs`."""
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
    return _contract(x, pairs, np.stack([cos, -sin], axis=1), axis, pairs=True)


@expansion("fft")
def _fft(x: Expander, inst, ops):
    lengths = tuple(inst.attrs["fft_length"])
    kind = inst.attrs["fft_type"]
    if max(lengths) > MAX_FFT_LENGTH:
        raise unsupported(inst, f"fft_length {list(lengths)} exceeds {MAX_FFT_LENGTH}, the "
                                f"longest transform aotc expands into matrix products")
    rank = inst.shape.rank
    axes = list(range(rank - len(lengths), rank))
    value = ops[0]
    if kind == "RFFT":
        value = _real_dft(x, value, axes[-1], lengths[-1])
        axes = axes[:-1]
    outer = axes[:-1] if kind == "IRFFT" else axes
    for axis in outer:
        value = _complex_dft(x, value, axis, inverse=kind in ("IFFT", "IRFFT"))
    if kind == "IRFFT":
        return _hermitian_inverse(x, value, axes[-1], lengths[-1])
    return value
