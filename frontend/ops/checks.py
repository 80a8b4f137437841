"""Runtime checks in the graph, which compiled code does not run.

tf2xla compiles CheckNumerics to an identity on CPU (it logs "Ignoring CheckNumerics")
and Assert to nothing (passthrough.py); aotc does the same. EnsureShape is different: every
shape is static here, so the check can run once, at compile time, and a graph that
would fail it at run time fails to compile instead.
"""

from __future__ import annotations

from .registry import lowering, single


@lowering("CheckNumerics", "CheckNumericsV2")
def _check_numerics(ctx, node, inputs):
    # Passes its input through; NaN/Inf are not reported (there is no error channel for
    # them in the generated entry function).
    return single(inputs)


@lowering("EnsureShape")
def _ensure_shape(ctx, node, inputs):
    x = single(inputs)
    want = ctx.attr(node, "shape", None)  # None: unknown rank, which anything matches
    got = x.shape.dims
    if want is not None and (len(want) != len(got)
                             or any(w not in (-1, g) for w, g in zip(want, got))):
        shown = "[" + ", ".join("?" if w < 0 else str(w) for w in want) + "]"
        ctx.error(node, f"input has shape {list(got)}, which is not compatible with the "
                        f"shape {shown} the graph requires")
    return x
