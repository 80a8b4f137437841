"""NonMaxSuppressionV3/V4: greedy selection of boxes by score, as TensorFlow's kernel.

An HLO while loop of min(max_output_size, num_boxes) steps. Each step takes the box of
highest score among those still candidates (ties: the lower index, as TensorFlow's
priority queue), appends it to the selection and drops every candidate whose IoU with it
exceeds iou_threshold. That is TensorFlow's order of checks turned around (it tests each
popped box against the boxes selected so far) with the same result, IoU being symmetric.
Candidates start as the boxes scoring above score_threshold. Corners are normalized
(ymin = min(y1, y2), ...), and a box of zero area overlaps nothing.

The result has max_output_size entries, which must be a constant: the static bound
tf2xla gives it too. Past the selected count they are 0, as V4 pads them; V4 also
returns the count. (TensorFlow's own V3, and V4 without padding, return only the
selected entries, a length known at run time.)
"""

from __future__ import annotations

import numpy as np

from ...hlo import Shape
from ...hlo.dtypes import F32, S32
from .loops import fori_loop
from .registry import lowering


@lowering("NonMaxSuppressionV3", "NonMaxSuppressionV4")
def _non_max_suppression(ctx, node, inputs):
    boxes, scores, max_size, iou_threshold, score_threshold = inputs
    num = boxes.shape.dims[0] if boxes.shape.rank == 2 else -1
    if boxes.shape.rank != 2 or boxes.shape.dims[1] != 4:
        ctx.error(node, f"boxes must be [num_boxes, 4], got {boxes.shape.short()}")
    if scores.shape.dims != (num,):
        ctx.error(node, f"scores must be [{num}], got {scores.shape.short()}")
    for name, value in (("iou_threshold", iou_threshold), ("score_threshold", score_threshold)):
        if value.shape.num_elements != 1:
            ctx.error(node, f"{name} must be a scalar, got {value.shape.short()}")
    size = ctx.static_int(node, max_size, "max_output_size")
    if size < 0:
        ctx.error(node, f"max_output_size must be non-negative, got {size}")
    b = ctx.b
    boxes, scores = b.convert(boxes, F32), b.convert(scores, F32)
    iou_limit, score_limit = (b.reshape(b.convert(v, F32), ()) for v in (iou_threshold,
                                                                          score_threshold))
    corners = _normalized_corners(ctx, boxes)
    area = _area(b, corners)
    candidates = b.compare(scores, b.broadcast(score_limit, (num,), ()), "GT")

    def step(scope, i, state):
        corners_, area_, scores_, iou_limit_, candidates_, selected, count = state
        sb = scope.b
        index = sb.iota(Shape(S32, (num,)), 0)
        masked = sb.select(candidates_, scores_, scope.full(-np.inf, F32, (num,)))
        top = sb.broadcast(scope.reduce(masked, "maximum", -np.inf, [0]), (num,), ())
        is_top = sb.binary("and", candidates_, sb.compare(masked, top, "EQ"))
        best = scope.reduce(sb.select(is_top, index, scope.full(num, S32, (num,))), "minimum",
                            num, [0])
        found = scope.reduce(candidates_, "or", False, [0])
        best = sb.select(found, best, sb.constant(0, S32))
        best_box = sb.dynamic_slice(corners_, [sb.constant(0, S32), best], [4, 1])
        best_area = sb.dynamic_slice(area_, [best], [1])
        iou = _iou(scope, corners_, area_, sb.broadcast(sb.reshape(best_box, (4,)), (4, num), (0,)),
                   sb.broadcast(sb.reshape(best_area, ()), (num,), ()))
        dropped = sb.binary("or", sb.compare(iou, sb.broadcast(iou_limit_, (num,), ()), "GT"),
                            sb.compare(index, sb.broadcast(best, (num,), ()), "EQ"))
        candidates_ = sb.binary("and", candidates_, sb.unary("not", dropped))
        selected = sb.dynamic_update_slice(selected, sb.reshape(best, (1,)), [i])
        count = sb.binary("add", count, sb.convert(found, S32))
        return [corners_, area_, scores_, iou_limit_, candidates_, selected, count]

    state = [corners, area, scores, iou_limit, candidates, ctx.full(0, S32, (size,)),
             b.constant(0, S32)]
    if min(size, num) == 0:  # nothing to select (the body could not even be built)
        selected, count = state[-2:]
    else:
        *_, selected, count = fori_loop(ctx, "non_max_suppression", min(size, num), state, step)
    return selected if node.op == "NonMaxSuppressionV3" else [selected, count]


def _normalized_corners(ctx, boxes):
    """[n, 4] boxes (y1, x1, y2, x2) -> [4, n]: ymin, xmin, ymax, xmax."""
    b = ctx.b
    num = boxes.shape.dims[0]
    columns = [b.reshape(b.slice(boxes, (0, k), (num, k + 1), (1, 1)), (num,)) for k in range(4)]
    low = [b.binary("minimum", columns[k], columns[k + 2]) for k in (0, 1)]
    high = [b.binary("maximum", columns[k], columns[k + 2]) for k in (0, 1)]
    return b.concatenate([b.reshape(c, (1, num)) for c in low + high], 0)


def _row(b, corners, k):
    num = corners.shape.dims[1]
    return b.reshape(b.slice(corners, (k, 0), (k + 1, num), (1, 1)), (num,))


def _area(b, corners):
    """(ymax - ymin) * (xmax - xmin), TensorFlow's order of operations."""
    ymin, xmin, ymax, xmax = (_row(b, corners, k) for k in range(4))
    return b.binary("multiply", b.binary("subtract", ymax, ymin), b.binary("subtract", xmax, xmin))


def _iou(ctx, corners, area, other, other_area):
    """IoU of each box with `other` (corners broadcast to [4, n]); 0 where an area is not
    positive, as in TensorFlow."""
    b = ctx.b
    num = area.shape.dims[0]
    zero = ctx.full(0.0, F32, (num,))
    mine = [_row(b, corners, k) for k in range(4)]
    theirs = [_row(b, other, k) for k in range(4)]
    low = [b.binary("maximum", mine[k], theirs[k]) for k in (0, 1)]
    high = [b.binary("minimum", mine[k], theirs[k]) for k in (2, 3)]
    extent = [b.binary("maximum", b.binary("subtract", h, lo), zero) for h, lo in zip(high, low)]
    inter = b.binary("multiply", extent[0], extent[1])
    union = b.binary("subtract", b.binary("add", area, other_area), inter)
    empty = b.binary("or", b.compare(area, zero, "LE"), b.compare(other_area, zero, "LE"))
    return b.select(empty, zero, b.binary("divide", inter, union))
