"""Image ops: color space conversions and adjustments (RGBToHSV, HSVToRGB,
AdjustContrastv2, AdjustSaturation, AdjustHue), LRN and ExtractImagePatches.

Color ops work on the last dimension (3 channels) elementwise, with TensorFlow's CPU
formulas (colorspace_op.h, adjust_*_op.cc); 16-bit floats are computed in f32."""

from __future__ import annotations

from ...hlo.dtypes import F32
from ...hlo.window import make_window
from .conv import window_padding
from .numerics import Math
from .registry import lowering


def _channels(ctx, node, x):
    """The three channel planes of x [..., 3], in f32 if x is narrower."""
    if not x.shape.element_type.is_float or not x.shape.rank or x.shape.dims[-1] != 3:
        ctx.error(node, f"needs a float tensor whose last dimension is 3, got {x.shape.short()}")
    b = ctx.b
    t = x.shape.element_type
    w = b.convert(x, F32) if t.bits < 32 else x
    r = x.shape.rank
    planes = []
    for k in range(3):
        starts, limits = [0] * r, list(x.shape.dims)
        starts[-1], limits[-1] = k, k + 1
        planes.append(b.reshape(b.slice(w, starts, limits, [1] * r), x.shape.dims[:-1]))
    return planes


def _stack(ctx, planes, t):
    b = ctx.b
    dims = planes[0].shape.dims
    out = b.concatenate([b.reshape(p, dims + (1,)) for p in planes], len(dims))
    return out if out.shape.element_type == t else b.convert(out, t)


def rgb_to_hsv(m: Math, r, g, b_):
    """(h, s, v), h in [0, 1): TensorFlow's formulas, ties resolved red, then green."""
    value = m.max(m.max(r, g), b_)
    span = m.sub(value, m.min(m.min(r, g), b_))
    saturation = m.select(m.gt(value, 0.0), m.div(span, value), 0.0)
    norm = m.div(m.div(1.0, span), 6.0)
    hue = m.select(m.eq(g, value), m.add(m.mul(norm, m.sub(b_, r)), 2.0 / 6.0),
                   m.add(m.mul(norm, m.sub(r, g)), 4.0 / 6.0))
    hue = m.select(m.eq(r, value), m.mul(norm, m.sub(g, b_)), hue)
    hue = m.select(m.gt(span, 0.0), hue, 0.0)
    hue = m.select(m.lt(hue, 0.0), m.add(hue, 1.0), hue)
    return hue, saturation, value


def hsv_to_rgb(m: Math, h, s, v):
    """(r, g, b) from h in [0, 1): piecewise-linear channel ramps."""
    dh = m.mul(h, 6.0)

    def ramp(center, rising):
        d = m.abs(m.sub(dh, center))
        level = m.sub(d, 1.0) if rising else m.sub(2.0, d)
        return m.min(m.max(level, 0.0), 1.0)

    one_s = m.sub(1.0, s)
    return [m.mul(m.add(one_s, m.mul(s, ramp(c, rising))), v)
            for c, rising in ((3.0, True), (2.0, False), (4.0, False))]


@lowering("RGBToHSV")
def _rgb_to_hsv(ctx, node, inputs):
    (x,) = inputs
    planes = _channels(ctx, node, x)
    return _stack(ctx, rgb_to_hsv(Math(ctx, planes[0]), *planes), x.shape.element_type)


@lowering("HSVToRGB")
def _hsv_to_rgb(ctx, node, inputs):
    (x,) = inputs
    planes = _channels(ctx, node, x)
    return _stack(ctx, hsv_to_rgb(Math(ctx, planes[0]), *planes), x.shape.element_type)


def _scalar(ctx, node, x, what, like):
    if x.shape.rank:
        ctx.error(node, f"{what} must be a scalar, got {x.shape.short()}")
    b = ctx.b
    x = x if x.shape.element_type == like.shape.element_type else b.convert(
        x, like.shape.element_type)
    return b.broadcast(x, like.shape.dims, ())


@lowering("AdjustSaturation")
def _adjust_saturation(ctx, node, inputs):
    x, scale = inputs
    planes = _channels(ctx, node, x)
    m = Math(ctx, planes[0])
    h, s, v = rgb_to_hsv(m, *planes)
    s = m.min(m.max(m.mul(s, _scalar(ctx, node, scale, "scale", planes[0])), 0.0), 1.0)
    return _stack(ctx, hsv_to_rgb(m, h, s, v), x.shape.element_type)


@lowering("AdjustHue")
def _adjust_hue(ctx, node, inputs):
    # The hue turns by delta and wraps into [0, 1).
    x, delta = inputs
    planes = _channels(ctx, node, x)
    m = Math(ctx, planes[0])
    h, s, v = rgb_to_hsv(m, *planes)
    h = m.add(h, _scalar(ctx, node, delta, "delta", planes[0]))
    h = m.sub(h, m.floor(h))
    return _stack(ctx, hsv_to_rgb(m, h, s, v), x.shape.element_type)


@lowering("AdjustContrastv2")
def _adjust_contrast(ctx, node, inputs):
    # (x - mean) * factor + mean, the mean per image and channel over height and width.
    x, factor = inputs
    if x.shape.rank < 3 or not x.shape.element_type.is_float:
        ctx.error(node, f"needs float images of rank >= 3, got {x.shape.short()}")
    b = ctx.b
    t = x.shape.element_type
    w = b.convert(x, F32) if t.bits < 32 else x
    r = x.shape.rank
    count = x.shape.dims[-3] * x.shape.dims[-2]
    total = ctx.reduce(w, "add", 0.0, [r - 3, r - 2])
    mean = b.broadcast(b.binary("divide", total, ctx.full_like(total, float(count))),
                       x.shape.dims, tuple(d for d in range(r) if d not in (r - 3, r - 2)))
    m = Math(ctx, w)
    out = m.add(m.mul(m.sub(w, mean), _scalar(ctx, node, factor, "contrast_factor", w)), mean)
    return out if t == out.shape.element_type else b.convert(out, t)


@lowering("LRN")
def _lrn(ctx, node, inputs):
    # x / (bias + alpha * sum of squares over the depth window [d - r, d + r]) ^ beta.
    (x,) = inputs
    if x.shape.rank != 4 or not x.shape.element_type.is_float:
        ctx.error(node, f"needs a 4-D float input, got {x.shape.short()}")
    radius = ctx.attr(node, "depth_radius", 5)
    bias, alpha, beta = (float(ctx.attr(node, a, d)) for a, d in
                         (("bias", 1.0), ("alpha", 1.0), ("beta", 0.5)))
    b = ctx.b
    t = x.shape.element_type
    w = b.convert(x, F32) if t.bits < 32 else x
    squares = b.binary("multiply", w, w)
    window = make_window([1, 1, 1, 2 * radius + 1], None, [(0, 0)] * 3 + [(radius, radius)])
    sums = b.reduce_window(squares, b.constant(0.0, w.shape.element_type), window,
                           ctx.reducer("add", w.shape.element_type))
    m = Math(ctx, w)
    out = m.div(w, m.pow(m.add(bias, m.mul(alpha, sums)), beta))
    return out if t == out.shape.element_type else b.convert(out, t)


@lowering("ExtractImagePatches")
def _extract_image_patches(ctx, node, inputs):
    # Each output pixel holds its (dilated) ksize patch flattened in (row, col, channel)
    # order: one strided slice of the padded input per kernel position, concatenated.
    (x,) = inputs
    if x.shape.rank != 4:
        ctx.error(node, f"needs a 4-D input, got {x.shape.short()}")
    attrs = {}
    for name in ("ksizes", "strides", "rates"):
        value = list(ctx.attr(node, name))
        if len(value) != 4 or value[0] != 1 or value[3] != 1 or min(value) < 1:
            ctx.error(node, f"{name} must be [1, rows, cols, 1], got {value}")
        attrs[name] = value[1:3]
    (kr, kc), (sr, sc), (rr, rc) = attrs["ksizes"], attrs["strides"], attrs["rates"]
    batch, rows, cols, depth = x.shape.dims
    windows = [(kr - 1) * rr + 1, (kc - 1) * rc + 1]
    pads = window_padding(ctx, node, [rows, cols], windows, [sr, sc])
    b = ctx.b
    padded = b.pad(x, b.constant(0, x.shape.element_type),
                   [(0, 0, 0), (*pads[0], 0), (*pads[1], 0), (0, 0, 0)])
    pr, pc = padded.shape.dims[1:3]
    out_r, out_c = (pr - windows[0]) // sr + 1, (pc - windows[1]) // sc + 1
    if out_r <= 0 or out_c <= 0:
        ctx.error(node, f"the patches {windows} do not fit the input {list(x.shape.dims)}")
    parts = []
    for i in range(kr):
        for j in range(kc):
            start = [0, i * rr, j * rc, 0]
            limit = [batch, i * rr + (out_r - 1) * sr + 1, j * rc + (out_c - 1) * sc + 1, depth]
            parts.append(b.slice(padded, start, limit, [1, sr, sc, 1]))
    return b.concatenate(parts, 3)
