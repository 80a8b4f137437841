"""Helpers for the robustness tests: graphs built from aotc's own protos, and compiles
run in-process through the CLI's `main(argv)` with their outcome checked.

An outcome is acceptable when the compile either succeeded (exit 0, a complete
artifact) or failed cleanly (exit 1, one `aotc: error:` line, no output directory); an
escaping exception fails the test with its traceback, which is what the tests look for.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from aotc.cli import main
from aotc.frontend.proto import aotc_graph_pb2, aotc_tf2xla_pb2, aotc_types_pb2

DT = aotc_types_pb2


def placeholder(graph, name: str, shape, dtype=DT.DT_FLOAT):
    """Add a Placeholder node of `shape` (-1 for an unknown dim) to `graph`."""
    node = graph.node.add(name=name, op="Placeholder")
    node.attr["dtype"].type = dtype
    node.attr["shape"].shape.SetInParent()  # a scalar too
    for d in shape:
        node.attr["shape"].shape.dim.add(size=d)
    return node


def const(graph, name: str, values, dtype=DT.DT_INT32, shape=None):
    """Add a Const node holding the integer (or float) `values` as a vector (or `shape`)."""
    node = graph.node.add(name=name, op="Const")
    node.attr["dtype"].type = dtype
    tensor = node.attr["value"].tensor
    tensor.dtype = dtype
    for d in (shape if shape is not None else [len(values)]):
        tensor.tensor_shape.dim.add(size=d)
    field = {DT.DT_INT32: "int_val", DT.DT_INT64: "int64_val", DT.DT_FLOAT: "float_val"}[dtype]
    getattr(tensor, field).extend(values)
    return node


def node(graph, name: str, op: str, inputs=(), T=DT.DT_FLOAT, types=None, **attrs):
    """Add a node; type attrs `T` (unless None) and `types` (name -> DataType), and
    simple attrs (bool, int, str, list of ints)."""
    n = graph.node.add(name=name, op=op, input=list(inputs))
    for key, dtype in (({"T": T} if T is not None else {}) | (types or {})).items():
        n.attr[key].type = dtype
    for key, value in attrs.items():
        if isinstance(value, bool):
            n.attr[key].b = value
        elif isinstance(value, int):
            n.attr[key].i = value
        elif isinstance(value, str):
            n.attr[key].s = value.encode()
        else:
            n.attr[key].list.i.extend(value)
    return n


def config(feeds, fetches) -> aotc_tf2xla_pb2.Config:
    """A Config feeding `feeds` ((node, shape) pairs) and fetching the `fetches` nodes."""
    c = aotc_tf2xla_pb2.Config()
    for name, shape in feeds:
        f = c.feed.add()
        f.id.node_name = name
        for d in shape:
            f.shape.dim.add(size=d)
    for name in fetches:
        c.fetch.add().id.node_name = name
    return c


def new_graph() -> aotc_graph_pb2.GraphDef:
    return aotc_graph_pb2.GraphDef()


class Outcome:
    """How one in-process `aotc compile` ended."""

    def __init__(self, status: int, stdout: str, stderr: str, out_dir: Path):
        self.status, self.stdout, self.stderr, self.out_dir = status, stdout, stderr, out_dir

    def check_clean(self, name: str = "model") -> None:
        """Assert exit 0 with a complete artifact, or exit 1 with an error and no output."""
        if self.status == 0:
            for suffix in (".o", ".h", ".json"):
                assert (self.out_dir / f"{name}{suffix}").stat().st_size > 0, suffix
        else:
            assert self.status == 1, (self.status, self.stderr)
            assert "aotc: error:" in self.stderr, self.stderr
            assert "Traceback" not in self.stderr, self.stderr
            assert not self.out_dir.exists(), "a failed compile left an output directory"


def compile_cli(tmp: Path, graph: bytes, cfg: bytes, *flags: str, tag: str = "c") -> Outcome:
    """Write `graph` and `cfg` (binary protos) under `tmp` and run `aotc compile` on them
    in this process; exceptions escape (a traceback is a bug)."""
    tmp.mkdir(parents=True, exist_ok=True)
    graph_path, config_path = tmp / f"{tag}.graph.pb", tmp / f"{tag}.config.pb"
    graph_path.write_bytes(graph)
    config_path.write_bytes(cfg)
    return compile_files(tmp, graph_path, config_path, *flags, tag=tag)


def compile_files(tmp: Path, graph_path: Path, config_path: Path, *flags: str,
                  tag: str = "c") -> Outcome:
    """`aotc compile GRAPH CONFIG -o tmp/<tag>.out --name model --cpp_class Model FLAGS`,
    in this process."""
    out = tmp / f"{tag}.out"
    argv = ["compile", str(graph_path), str(config_path), "-o", str(out), "--name", "model",
            "--cpp_class", "Model", *flags]
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            status = main(argv)
        except SystemExit as e:  # argparse errors
            status = e.code
    return Outcome(status, stdout.getvalue(), stderr.getvalue(), out)


def compile_protos(tmp: Path, graph, cfg, *flags: str, tag: str = "c") -> Outcome:
    """`compile_cli` on messages."""
    return compile_cli(tmp, graph.SerializeToString(), cfg.SerializeToString(), *flags, tag=tag)
