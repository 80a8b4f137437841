#!/usr/bin/env python3
"""Regenerate frontend/op_signatures.json from TensorFlow's OpDefs.

The compiler never imports TensorFlow; it checks every node against this committed table
(frontend/contracts.py). The table covers every op aotc lowers and every op type in
tf2xla's CPU kernel list (frontend/ops/tf2xla_inference_ops.txt, or the file given with
--ops), so a lowering rule added later already has its signature.

Usage (from the repository root, in an environment with tensorflow):
    .venv/bin/python tools/gen_op_signatures.py [--ops FILE ...]

Format (one op per line, sorted, for readable diffs):
    {"MatMul": {"inputs": [{"name": "a", "type_attr": "T"}, ...],
                "outputs": [...],
                "attrs": [{"name": "transpose_a", "type": "bool", "default": false}, ...]}}

An arg has `type` (a fixed DataType name such as "DT_INT32") or `type_attr`, and may have
`number_attr` (a list of that many tensors) or `type_list_attr` (one tensor per type in
that list attr); `is_ref` marks reference inputs. An attr has its `type` ("int", "bool",
"type", "list(int)", ...), and where TensorFlow gives them a `default` (a JSON value; type
attrs as DataType names; `{"tensor": true}` for tensor defaults), `allowed` values and a
`minimum`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "frontend", "op_signatures.json")
DEFAULT_OPS = os.path.join(REPO, "frontend", "ops", "tf2xla_inference_ops.txt")


def _scalar(value, kind: str):
    from tensorflow.core.framework import types_pb2

    if kind == "s":
        return value.decode("utf-8", "replace")
    if kind == "type":
        return types_pb2.DataType.Name(value)
    if kind == "shape":
        return None if value.unknown_rank else [int(d.size) for d in value.dim]
    if kind == "tensor":
        return {"tensor": True}
    if kind == "func":
        return {"func": value.name}
    if kind == "f":
        return float(value)
    return value  # i, b


def _attr_value(value):
    case = value.WhichOneof("value")
    if case == "list":
        for field in ("s", "i", "f", "b", "type", "shape", "tensor", "func"):
            items = getattr(value.list, field)
            if len(items):
                return [_scalar(item, field) for item in items]
        return []
    return _scalar(getattr(value, case), case)


def _arg(arg) -> dict:
    from tensorflow.core.framework import types_pb2

    out = {"name": arg.name}
    if arg.type_list_attr:
        out["type_list_attr"] = arg.type_list_attr
    elif arg.type_attr:
        out["type_attr"] = arg.type_attr
    else:
        out["type"] = types_pb2.DataType.Name(arg.type)
    if arg.number_attr:
        out["number_attr"] = arg.number_attr
    if arg.is_ref:
        out["is_ref"] = True
    return out


def _attr(attr) -> dict:
    out = {"name": attr.name, "type": attr.type}
    if attr.HasField("default_value"):
        out["default"] = _attr_value(attr.default_value)
    if attr.HasField("allowed_values"):
        out["allowed"] = _attr_value(attr.allowed_values)
    if attr.has_minimum:
        out["minimum"] = int(attr.minimum)
    return out


def signature(op_def) -> dict:
    """The JSON-able signature of one OpDef."""
    return {
        "inputs": [_arg(a) for a in op_def.input_arg],
        "outputs": [_arg(a) for a in op_def.output_arg],
        "attrs": [_attr(a) for a in op_def.attr],
    }


def wanted_ops(extra_files: list[str]) -> set[str]:
    """Every op aotc lowers, the variable ops, and the op types listed in the files."""
    sys.path.insert(0, REPO)
    from aotc.frontend.lower import VARIABLE_OPS
    from aotc.frontend.ops import LOWERINGS

    ops = set(LOWERINGS) | set(VARIABLE_OPS)
    for path in extra_files:
        with open(path) as f:
            ops |= {line.strip() for line in f if line.strip() and not line.startswith("#")}
    return ops


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", action="append", default=None,
                        help=f"file of op types, one a line (default: {DEFAULT_OPS})")
    parser.add_argument("-o", "--out", default=OUT)
    args = parser.parse_args(argv)
    files = args.ops if args.ops is not None else [p for p in [DEFAULT_OPS] if os.path.exists(p)]

    from tensorflow.python.framework import op_def_registry

    table, unknown = {}, []
    for op in sorted(wanted_ops(files)):
        op_def = op_def_registry.get(op)
        if op_def is None:
            unknown.append(op)
            continue
        table[op] = signature(op_def)
    lines = [f"{json.dumps(op)}: {json.dumps(sig, sort_keys=True)}" for op, sig in table.items()]
    with open(args.out, "w") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")
    print(f"wrote {len(table)} signatures to {args.out}")
    if unknown:
        print("no OpDef in TensorFlow for: " + ", ".join(unknown), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
