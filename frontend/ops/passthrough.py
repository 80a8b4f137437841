"""Pass-through and no-op ops: identities, graph inputs, no-ops.

Gradient-only markers (StopGradient, PreventGradient) are identities in a forward-only
compiled graph, as in tf2xla.
"""

from __future__ import annotations

from .registry import lowering, single


@lowering("Identity", "StopGradient", "PreventGradient", "Snapshot")
def _identity(ctx, node, inputs):
    return single(inputs)


@lowering("IdentityN")
def _identity_n(ctx, node, inputs):
    return list(inputs)


@lowering("NoOp", "Assert")
def _no_op(ctx, node, inputs):
    # Assert has no outputs and, as in tf2xla, checks nothing in compiled code.
    return []


@lowering("Placeholder")
def _placeholder(ctx, node, inputs):
    # A fed placeholder becomes an entry parameter before rules run; reaching this rule
    # means nothing feeds it (pruning normally reports that first).
    ctx.error(node, "placeholder is not fed: add a feed for it to the Config")


@lowering("PlaceholderWithDefault")
def _placeholder_with_default(ctx, node, inputs):
    # Not fed: the default value (its input) flows through.
    return single(inputs)
