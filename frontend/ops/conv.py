"""Convolutions: Conv2D, Conv3D, DepthwiseConv2dNative, and the transposed convolutions
Conv2DBackpropInput / Conv3DBackpropInputV2, each one HLO `convolution` (tf2xla's
lowering, conv_op_helpers.cc).

TensorFlow kernels are always laid out spatial..., in, out (HWIO, DHWIO); the data layout
(NHWC or NCHW, NDHWC or NCDHW) only changes the input and output dim labels. Window
helpers shared with pooling (data formats, per-dimension attrs, SAME/VALID/EXPLICIT
padding) live here too.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...hlo.window import dilated_bound, make_window
from .registry import lowering


@dataclass(frozen=True)
class DataLayout:
    """Where the batch, feature and spatial dimensions of a data_format are."""

    name: str
    batch: int
    feature: int
    spatial: tuple[int, ...]

    @property
    def rank(self) -> int:
        return len(self.spatial) + 2

    def labels(self) -> str:
        """Dim labels of a tensor in this layout, e.g. `b01f` for NHWC."""
        chars = [""] * self.rank
        chars[self.batch], chars[self.feature] = "b", "f"
        for k, d in enumerate(self.spatial):
            chars[d] = str(k)
        return "".join(chars)


def data_layout(ctx, node, rank: int) -> DataLayout:
    """The layout the node's data_format attr names (TF's default: channels last)."""
    default = "N" + "DHW"[3 - (rank - 2):] + "C"
    name = ctx.attr(node, "data_format", default)
    if name == default:
        return DataLayout(name, 0, rank - 1, tuple(range(1, rank - 1)))
    if name == "NC" + default[1:-1]:
        return DataLayout(name, 0, 1, tuple(range(2, rank)))
    ctx.error(node, f"data_format {name!r} is not supported for a rank-{rank} input "
                    f"(use {default} or NC{default[1:-1]})")


def per_dim_attr(ctx, node, values, rank: int, what: str) -> list[int]:
    """A list attr or input with one positive entry per dimension (ksize, strides, ...)."""
    values = [int(v) for v in values]
    if len(values) != rank:
        ctx.error(node, f"{what} must have {rank} entries, got {values}")
    if any(v < 1 for v in values):
        ctx.error(node, f"{what} must be positive, got {values}")
    return values


def spatial_attr(ctx, node, name: str, layout: DataLayout) -> list[int]:
    """strides/dilations of a convolution: batch and feature entries must be 1."""
    values = per_dim_attr(ctx, node, ctx.attr(node, name, [1] * layout.rank), layout.rank, name)
    if values[layout.batch] != 1 or values[layout.feature] != 1:
        ctx.error(node, f"{name} {values} must be 1 in the batch and feature dimensions "
                        f"(data_format {layout.name})")
    return [values[d] for d in layout.spatial]


def _explicit_padding(ctx, node, rank: int, dims) -> list[tuple[int, int]]:
    """explicit_paddings (2 * rank integers, (before, after) per dimension) for `dims`;
    every other dimension must be unpadded."""
    flat = [int(v) for v in ctx.attr(node, "explicit_paddings", [])]
    if len(flat) != 2 * rank or any(v < 0 for v in flat):
        ctx.error(node, f"explicit_paddings must hold {2 * rank} non-negative integers, "
                        f"got {flat}")
    pairs = list(zip(flat[0::2], flat[1::2]))
    if any(pairs[d] != (0, 0) for d in range(rank) if d not in dims):
        ctx.error(node, f"explicit_paddings {flat} may only pad dimensions {list(dims)}")
    return [pairs[d] for d in dims]


def window_padding(ctx, node, sizes, windows, strides, explicit_dims=None, rank=None):
    """(before, after) padding of each windowed dimension for the node's `padding` attr.

    `windows` are the effective (dilated) window extents. SAME pads so that the output
    has ceil(size / stride) elements, the odd element going after (TF's rule); VALID
    pads nothing; EXPLICIT reads explicit_paddings of a rank-`rank` tensor at its dims
    `explicit_dims` (None for ops without EXPLICIT padding).
    """
    padding = ctx.attr(node, "padding")
    if padding == "VALID":
        pads = [(0, 0)] * len(sizes)
    elif padding == "SAME":
        pads = []
        for size, window, stride in zip(sizes, windows, strides):
            out = -(-size // stride)
            need = max((out - 1) * stride + window - size, 0)
            pads.append((need // 2, need - need // 2))
    elif padding == "EXPLICIT" and explicit_dims is not None:
        pads = _explicit_padding(ctx, node, rank, explicit_dims)
    else:
        allowed = "SAME, VALID or EXPLICIT" if explicit_dims is not None else "SAME or VALID"
        ctx.error(node, f"padding {padding!r} is not supported (use {allowed})")
    for k, (size, window, (low, high)) in enumerate(zip(sizes, windows, pads)):
        if window > size + low + high:  # TF: "Computed output size would be negative"
            padded = f" padded to {size + low + high}" if low or high else ""
            ctx.error(node, f"window size {window} is larger than the input's size {size}"
                            f"{padded} in window dimension {k} ({padding} padding)")
    return pads


def _check_ranks(ctx, node, rank: int, **tensors) -> None:
    for what, inst in tensors.items():
        if inst.shape.rank != rank:
            ctx.error(node, f"{what} must have rank {rank}, got shape {list(inst.shape.dims)}")


def _forward_window(ctx, node, x, kernel_spatial, layout, explicit_allowed: bool):
    """The window of a forward convolution of `x` with kernel spatial sizes
    `kernel_spatial`, from the node's strides, dilations and padding."""
    strides = spatial_attr(ctx, node, "strides", layout)
    dilations = spatial_attr(ctx, node, "dilations", layout)
    sizes = [x.shape.dims[d] for d in layout.spatial]
    windows = [dilated_bound(k, d) for k, d in zip(kernel_spatial, dilations)]
    padding = window_padding(ctx, node, sizes, windows, strides,
                             layout.spatial if explicit_allowed else None, layout.rank)
    return make_window(kernel_spatial, strides, padding, None, dilations)


def _conv_rule(rank: int, explicit_allowed: bool):
    """Conv2D (rank 4) / Conv3D (rank 5): kernel spatial..., in, out; when the input has
    a multiple of the kernel's input features, a grouped convolution (as TF allows)."""

    def rule(ctx, node, inputs):
        x, kernel = inputs
        _check_ranks(ctx, node, rank, input=x, filter=kernel)
        layout = data_layout(ctx, node, rank)
        n = rank - 2
        kernel_in = kernel.shape.dims[n]
        features = x.shape.dims[layout.feature]
        if kernel_in == 0 or features % kernel_in:
            ctx.error(node, f"input has {features} channels, which is not a multiple of the "
                            f"filter's {kernel_in} input channels")
        groups = features // kernel_in
        if kernel.shape.dims[n + 1] % groups:
            ctx.error(node, f"filter's {kernel.shape.dims[n + 1]} output channels are not "
                            f"divisible by the {groups} groups")
        window = _forward_window(ctx, node, x, kernel.shape.dims[:n], layout, explicit_allowed)
        labels = layout.labels()
        kernel_labels = "".join(map(str, range(n))) + "io"
        return ctx.b.convolution(x, kernel, window, f"{labels}_{kernel_labels}->{labels}",
                                 feature_group_count=groups)

    return rule


lowering("Conv2D")(_conv_rule(4, explicit_allowed=True))
lowering("Conv3D")(_conv_rule(5, explicit_allowed=False))

#: The generic Conv op's data_format values -> Conv2D/Conv3D's, by spatial rank.
_GENERIC_FORMATS = {"CHANNELS_LAST": lambda spatial: "N" + spatial + "C",
                    "CHANNELS_FIRST": lambda spatial: "NC" + spatial}


@lowering("Conv")
def _conv_generic(ctx, node, inputs):
    # TF's rank-generic Conv (2 or 3 spatial dims): the Conv2D/Conv3D rule for its rank,
    # with data_format spelled the way that rule reads it.
    x = inputs[0]
    spatial = x.shape.rank - 2
    if ctx.attr(node, "batch_dims", 1) != 1 or not 2 <= spatial <= 3:
        ctx.error(node, "only batch_dims = 1 and 2 or 3 spatial dimensions are supported")
    fmt = ctx.attr(node, "data_format", "CHANNELS_LAST")
    fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
    if fmt not in _GENERIC_FORMATS:
        ctx.error(node, f"unknown data_format {fmt!r}")
    renamed = type(node)()
    renamed.CopyFrom(node)
    renamed.attr["data_format"].s = _GENERIC_FORMATS[fmt]("DHW"[3 - spatial:]).encode()
    if not renamed.attr["dilations"].list.i:  # the attr's default: no dilation
        renamed.attr["dilations"].list.i.extend([1] * x.shape.rank)
    groups = ctx.attr(node, "groups", 1)
    kernel_in = inputs[1].shape.dims[spatial] if inputs[1].shape.rank == x.shape.rank else 0
    features = x.shape.dims[-1 if fmt == "CHANNELS_LAST" else 1]
    if kernel_in * groups != features:
        ctx.error(node, f"groups = {groups} does not match the input's {features} channels "
                        f"and the filter's {kernel_in} input channels")
    return _conv_rule(x.shape.rank, explicit_allowed=True)(ctx, renamed, inputs)


@lowering("DepthwiseConv2dNative")
def _depthwise(ctx, node, inputs):
    # Filter [H, W, C, M] -> [H, W, 1, C*M]: output channel c*M + m is group c's m-th
    # output, which is the order TF's depthwise kernel writes them in.
    x, kernel = inputs
    _check_ranks(ctx, node, 4, input=x, filter=kernel)
    layout = data_layout(ctx, node, 4)
    height, width, channels, multiplier = kernel.shape.dims
    if x.shape.dims[layout.feature] != channels:
        ctx.error(node, f"input has {x.shape.dims[layout.feature]} channels but the filter "
                        f"{list(kernel.shape.dims)} expects {channels}")
    grouped = ctx.b.reshape(kernel, [height, width, 1, channels * multiplier])
    window = _forward_window(ctx, node, x, [height, width], layout, explicit_allowed=True)
    labels = layout.labels()
    return ctx.b.convolution(x, grouped, window, f"{labels}_01io->{labels}",
                             feature_group_count=channels)


def _backprop_input_rule(rank: int, explicit_allowed: bool):
    """The gradient of a convolution with respect to its input: a transposed
    convolution. XLA's construction: dilate the output gradient by the stride (base
    dilation), pad it so every input position sees the taps that touched it, and
    convolve with the spatially reversed kernel whose in/out features swap roles."""

    def rule(ctx, node, inputs):
        sizes_input, kernel, gradient = inputs
        _check_ranks(ctx, node, rank, filter=kernel, out_backprop=gradient)
        layout = data_layout(ctx, node, rank)
        n = rank - 2
        sizes = ctx.static_ints(node, sizes_input, "input_sizes")
        if len(sizes) == n:  # spatial sizes only: batch and features are implied
            full = [0] * rank
            full[layout.batch] = gradient.shape.dims[layout.batch]
            full[layout.feature] = kernel.shape.dims[n]
            for k, d in enumerate(layout.spatial):
                full[d] = sizes[k]
            sizes = full
        if len(sizes) != rank:
            ctx.error(node, f"input_sizes must have {rank} (or {n}) entries, got {sizes}")
        if sizes[layout.feature] != kernel.shape.dims[n]:
            ctx.error(node, f"input_sizes has {sizes[layout.feature]} channels but the filter "
                            f"{list(kernel.shape.dims)} has {kernel.shape.dims[n]} input "
                            "channels (grouped transposed convolutions are not supported)")
        strides = spatial_attr(ctx, node, "strides", layout)
        dilations = spatial_attr(ctx, node, "dilations", layout)
        in_sizes = [sizes[d] for d in layout.spatial]
        kernel_sizes = list(kernel.shape.dims[:n])
        windows = [dilated_bound(k, d) for k, d in zip(kernel_sizes, dilations)]
        forward = window_padding(ctx, node, in_sizes, windows, strides,
                                 layout.spatial if explicit_allowed else None, rank)
        padding = []
        for s, (size, window, stride, (before, after)) in enumerate(
                zip(in_sizes, windows, strides, forward)):
            out = (size + before + after - window) // stride + 1
            have = gradient.shape.dims[layout.spatial[s]]
            if have != out:
                ctx.error(node, f"out_backprop has {have} elements in spatial dimension {s}; "
                                f"a forward convolution of input_sizes {sizes} gives {out}")
            pad_before = window - 1 - before
            pad_after = size + window - 1 - ((out - 1) * stride + 1) - pad_before
            padding.append((pad_before, pad_after))
        reversed_kernel = ctx.b.reverse(kernel, list(range(n)))
        window = make_window(kernel_sizes, None, padding, strides, dilations)
        labels = layout.labels()
        kernel_labels = "".join(map(str, range(n))) + "oi"
        result = ctx.b.convolution(gradient, reversed_kernel, window,
                                   f"{labels}_{kernel_labels}->{labels}")
        if list(result.shape.dims) != sizes:
            ctx.error(node, f"computes shape {list(result.shape.dims)}, not input_sizes {sizes}")
        return result

    return rule


lowering("Conv2DBackpropInput")(_backprop_input_rule(4, explicit_allowed=True))
lowering("Conv3DBackpropInputV2")(_backprop_input_rule(5, explicit_allowed=False))
