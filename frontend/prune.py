"""Cut a GraphDef down to what a Config's fetches need, stopping at its feeds.

`prune(graph, config)` walks backwards from every fetch along data and control edges. A
fed tensor cuts the walk: its consumers read the argument instead, so its producer is
needed only if something else needs it. The walk validates what it reaches (unfed
Placeholders, variables missing from the Config, dangling inputs, cycles other than a
TF1 loop's) and the Config itself (unknown nodes, bad names, bad shapes), raising a
FrontendError that names the culprit and, where there is one, the fix.

Conventions the lowering relies on:
- Input strings are "node" (output 0), "node:k", or "^node" (control edge); see
  `parse_input`. (Function bodies use "node:arg:k"; they are not parsed here.)
- `Subgraph.nodes` is in topological order and excludes nodes all of whose used outputs
  are fed; before resolving any data input, check `Subgraph.feed_for(ref)`.
- A control dependency on a node whose output is fed counts as satisfied: the argument
  exists before anything runs.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Iterable, NamedTuple

import numpy as np

from ..hlo.shape import MAX_BYTES
from .errors import ConfigError, GraphError
from .identifiers import is_c_identifier
from .toposort import stable_topological_order
from .graph import (
    Config,
    GraphDef,
    NodeDef,
    attr_value,
    numpy_dtype,
    shape_from_proto,
)
from .proto import aotc_function_pb2, aotc_types_pb2

__all__ = [
    "INPUTS_IGNORED",
    "TensorRef",
    "FeedInfo",
    "FetchInfo",
    "VariableInfo",
    "Subgraph",
    "parse_input",
    "prune",
    "is_c_identifier",
]


class TensorRef(NamedTuple):
    """One output of one node: `node_name:output_index`."""

    node_name: str
    output_index: int = 0

    def __str__(self) -> str:
        return f"{self.node_name}:{self.output_index}"


def parse_input(text: str) -> tuple[TensorRef, bool]:
    """Parse a NodeDef input string into (tensor, is_control).

    "x" -> (x:0, False); "x:2" -> (x:2, False); "^x" -> (x:0, True). A suffix that is not
    a number is kept as part of the node name.
    """
    if text.startswith("^"):
        return TensorRef(text[1:], 0), True
    name, sep, index = text.rpartition(":")
    if sep and index.isdigit():
        return TensorRef(name, int(index)), False
    return TensorRef(text, 0), False


@dataclass(frozen=True)
class FeedInfo:
    """An argument of the compiled function.

    `name` is the Config's name for it ('' when the Config gives none); `dtype` and
    `shape` are fully known (from the Config, else from the fed node).
    """

    name: str
    tensor: TensorRef
    dtype: np.dtype
    shape: tuple[int, ...]

    @property
    def label(self) -> str:
        """The Config name if any, else the tensor: for messages and default names."""
        return self.name or str(self.tensor)


@dataclass(frozen=True)
class FetchInfo:
    """A result of the compiled function.

    `dtype`/`shape` are what the Config declares (None when it declares nothing); the
    lowering should check them against what it infers.
    """

    name: str
    tensor: TensorRef
    dtype: np.dtype | None = None
    shape: tuple[int, ...] | None = None

    @property
    def label(self) -> str:
        """The Config name if any, else the tensor: for messages and default names."""
        return self.name or str(self.tensor)


@dataclass(frozen=True)
class VariableInfo:
    """A resource variable from the Config.

    `name` is the Config's name, or `node_name` when the Config gives none (node names
    may contain '/', so code generation must escape it). Readonly variables are inputs
    only; the others are also results.
    """

    node_name: str
    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    readonly: bool


@dataclass
class Subgraph:
    """The part of a graph that computes a Config's fetches from its feeds."""

    nodes: list[NodeDef]
    feeds: list[FeedInfo]
    fetches: list[FetchInfo]
    variables: list[VariableInfo]
    library: aotc_function_pb2.FunctionDefLibrary
    _by_name: dict[str, NodeDef] = field(init=False, repr=False)
    _feed_by_tensor: dict[TensorRef, FeedInfo] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name = {n.name: n for n in self.nodes}
        self._feed_by_tensor = {f.tensor: f for f in self.feeds}

    def node(self, name: str) -> NodeDef:
        """The needed node called `name` (KeyError if it is not part of the subgraph)."""
        return self._by_name[name]

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def feed_for(self, tensor: TensorRef) -> FeedInfo | None:
        """The feed that supplies `tensor`, or None if it is computed."""
        return self._feed_by_tensor.get(tensor)


# ---------------------------------------------------------------------------------------
# Tables

_PLACEHOLDER_OPS = frozenset({"Placeholder", "PlaceholderV2"})
_VARIABLE_OPS = frozenset({"VarHandleOp", "VariableV2", "Variable", "VariableV1"})
#: Ops whose lowering ignores their data inputs (they check or print nothing in compiled
#: code, as in tf2xla), so those inputs are not needed: an Assert's message strings, which
#: no tensor type could hold, are never lowered.
INPUTS_IGNORED = frozenset({"Assert", "Print", "PrintV2", "NoOp"})

_MERGE_OPS = frozenset({"Merge", "RefMerge"})
_NEXT_ITERATION_OPS = frozenset({"NextIteration", "RefNextIteration"})

#: Ops whose number of outputs does not depend on attrs, for checking output indices.
_KNOWN_NUM_OUTPUTS = {
    "Placeholder": 1,
    "PlaceholderV2": 1,
    "PlaceholderWithDefault": 1,
    "Const": 1,
    "Identity": 1,
    "VarHandleOp": 1,
    "VariableV2": 1,
    "ReadVariableOp": 1,
    "NoOp": 0,
    "Assert": 0,
    "AssignVariableOp": 0,
}

# ---------------------------------------------------------------------------------------
# Entry point


def prune(graph: GraphDef, config: Config) -> Subgraph:
    """Return the subgraph of `graph` that computes `config`'s fetches from its feeds."""
    nodes = _index_nodes(graph)
    if not config.fetch:
        raise ConfigError(
            "the Config has no fetches; add at least one, e.g. "
            'fetch { id { node_name: "output" } }'
        )
    feeds = [_feed_info(f, nodes) for f in config.feed]
    fetches = [_fetch_info(f, nodes) for f in config.fetch]
    variables = [_variable_info(v, nodes) for v in config.variable]
    _check_names(feeds, "feed")
    _check_names(fetches, "fetch")
    _check_variable_names(variables)
    _check_duplicate_feeds(feeds)

    walk = _Walk(nodes, feeds, variables)
    for fetch in fetches:
        walk.visit_fetch(fetch)
    ordered = _topological_order(walk.needed, nodes, walk.fed_tensors, walk.fed_nodes)
    return Subgraph(
        nodes=ordered,
        feeds=feeds,
        fetches=fetches,
        variables=variables,
        library=graph.library,
    )


def _index_nodes(graph: GraphDef) -> dict[str, NodeDef]:
    nodes: dict[str, NodeDef] = {}
    for node in graph.node:
        if node.name in nodes:
            raise GraphError(
                f"the graph has two nodes named '{node.name}' (ops {nodes[node.name].op} "
                f"and {node.op}); node names must be unique"
            )
        nodes[node.name] = node
    return nodes


def _closest(name: str, candidates: Iterable[str]) -> str:
    """A ' Did you mean ...?' hint, or '' when nothing is close."""
    close = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"


def _lookup(nodes: dict[str, NodeDef], name: str, what: str) -> NodeDef:
    if not name:
        raise ConfigError(f"{what} has no node name (set id {{ node_name: ... }})")
    if name not in nodes:
        raise ConfigError(
            f"{what} names node '{name}', which is not in the graph.{_closest(name, nodes)}"
        )
    return nodes[name]


def _describe(kind: str, name: str, tensor: TensorRef) -> str:
    return f"{kind} '{name}' ({tensor})" if name else f"{kind} '{tensor}'"


def _check_output_index(node: NodeDef, index: int, what: str) -> None:
    num_outputs = _KNOWN_NUM_OUTPUTS.get(node.op)
    if index < 0 or (num_outputs is not None and index >= num_outputs):
        valid = (
            "it has no outputs" if num_outputs == 0
            else f"valid indices: 0..{num_outputs - 1}" if num_outputs
            else "indices start at 0"
        )
        raise ConfigError(
            f"{what} uses output {index} of node '{node.name}' ({node.op}); {valid}"
        )


# ---------------------------------------------------------------------------------------
# Feeds, fetches, variables


def _feed_info(feed, nodes: dict[str, NodeDef]) -> FeedInfo:
    tensor = TensorRef(feed.id.node_name, int(feed.id.output_index))
    what = _describe("feed", feed.name, tensor)
    node = _lookup(nodes, tensor.node_name, what)
    _check_output_index(node, tensor.output_index, what)
    info = FeedInfo(
        name=feed.name,
        tensor=tensor,
        dtype=_feed_dtype(feed, node, what),
        shape=_feed_shape(feed, node, tensor, what),
    )
    _check_size(info.shape, info.dtype, what)
    return info


def _check_size(shape: tuple[int, ...], dtype: np.dtype, what: str) -> None:
    """A buffer's byte size must fit int64, the type of every size and offset."""
    size = math.prod(shape) * np.dtype(dtype).itemsize
    if size > MAX_BYTES:
        raise ConfigError(f"{what} has shape {_format_shape(shape)}: {size} bytes of "
                          f"{np.dtype(dtype).name}, more than a buffer can hold ({MAX_BYTES})")


def _feed_dtype(feed, node: NodeDef, what: str) -> np.dtype:
    if feed.type != aotc_types_pb2.DT_INVALID:
        return numpy_dtype(feed.type, what)
    if node.op in _PLACEHOLDER_OPS or node.op in ("PlaceholderWithDefault", "Const"):
        return attr_value(node, "dtype")
    # Without the op registry we cannot tell the type of an arbitrary op's output.
    raise ConfigError(
        f"{what} feeds a {node.op} output, whose type aotc cannot infer; give the feed "
        "a type in the Config, e.g. type: DT_FLOAT"
    )


def _static_shape(node: NodeDef, index: int) -> tuple[int, ...] | None:
    """What the graph says about the shape of output `index`, or None if nothing."""
    if node.op in _PLACEHOLDER_OPS or node.op == "PlaceholderWithDefault":
        if "shape" in node.attr:
            return shape_from_proto(node.attr["shape"].shape)
    if node.op == "Const" and "value" in node.attr:
        # tfcompile's own test graphs feed constants (tfadd feeds x_const and y_const).
        return shape_from_proto(node.attr["value"].tensor.tensor_shape)
    # Graphs exported with add_shapes=True annotate every node's output shapes.
    if "_output_shapes" in node.attr:
        shapes = node.attr["_output_shapes"].list.shape
        if index < len(shapes):
            return shape_from_proto(shapes[index])
    return None


def _format_shape(shape: tuple[int, ...] | None) -> str:
    if shape is None:
        return "<unknown rank>"
    return "[" + ", ".join("?" if d < 0 else str(d) for d in shape) + "]"


def _feed_shape(feed, node: NodeDef, tensor: TensorRef, what: str) -> tuple[int, ...]:
    static = _static_shape(node, tensor.output_index)
    given = shape_from_proto(feed.shape) if feed.HasField("shape") else None
    if given is not None and static is not None and not _compatible(given, static):
        raise ConfigError(
            f"{what} has shape {_format_shape(given)} in the Config, but node "
            f"'{node.name}' ({node.op}) declares shape {_format_shape(static)}"
        )
    shape = given if given is not None else static
    if shape is None or any(d < 0 for d in shape):
        example = " ".join(
            f"dim {{ size: {d if d >= 0 else 1} }}" for d in (shape or (1,))
        )
        unknown = [str(d) for d, n in enumerate(shape or ()) if n < 0]
        detail = (f"dimension{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                  f"{'are' if len(unknown) > 1 else 'is'} unknown" if unknown
                  else "its rank is unknown")
        raise ConfigError(
            f"{what} has shape {_format_shape(shape)}, which is not fully defined ({detail}); "
            "aotc compiles for fixed shapes, as tfcompile does, so give it a fully defined "
            f"shape in the Config, e.g. shape {{ {example} }} in its feed entry"
        )
    return shape


def _compatible(given: tuple[int, ...], static: tuple[int, ...]) -> bool:
    if len(given) != len(static):
        return False
    return all(g == s or g < 0 or s < 0 for g, s in zip(given, static))


def _fetch_info(fetch, nodes: dict[str, NodeDef]) -> FetchInfo:
    tensor = TensorRef(fetch.id.node_name, int(fetch.id.output_index))
    what = _describe("fetch", fetch.name, tensor)
    node = _lookup(nodes, tensor.node_name, what)
    _check_output_index(node, tensor.output_index, what)
    dtype = numpy_dtype(fetch.type, what) if fetch.type else None
    shape = shape_from_proto(fetch.shape) if fetch.HasField("shape") else None
    return FetchInfo(name=fetch.name, tensor=tensor, dtype=dtype, shape=shape)


def _variable_info(var, nodes: dict[str, NodeDef]) -> VariableInfo:
    what = f"variable '{var.name or var.node_name}'"
    node = _lookup(nodes, var.node_name, what)
    if var.type != aotc_types_pb2.DT_INVALID:
        dtype = numpy_dtype(var.type, what)
    elif "dtype" in node.attr:
        dtype = numpy_dtype(node.attr["dtype"].type, what)
    else:
        raise ConfigError(f"{what} has no type; set type: DT_... in the Config")
    if var.HasField("shape"):
        shape = shape_from_proto(var.shape)
    else:
        shape = attr_value(node, "shape", None)
    if shape is None or any(d < 0 for d in shape):
        raise ConfigError(
            f"{what} has shape {_format_shape(shape)}, which is not fully defined; give it "
            "a fully defined shape in the Config, e.g. shape { dim { size: 1 } }"
        )
    _check_size(shape, dtype, what)
    return VariableInfo(
        node_name=var.node_name,
        name=var.name or var.node_name,
        dtype=dtype,
        shape=tuple(shape),
        readonly=var.readonly,
    )


def _check_names(entries: list, kind: str) -> None:
    seen: dict[str, TensorRef] = {}
    for entry in entries:
        if not entry.name:
            continue
        if not is_c_identifier(entry.name):
            raise ConfigError(
                f"{kind} name '{entry.name}' (tensor {entry.tensor}) is not a valid C/C++ "
                "identifier; it names generated accessors, so use letters, digits and '_', "
                "not starting with a digit and not a keyword"
            )
        if entry.name in seen:
            plural = "fetches" if kind == "fetch" else f"{kind}s"
            raise ConfigError(
                f"two {plural} are named '{entry.name}' ({seen[entry.name]} and "
                f"{entry.tensor}); {kind} names must be unique"
            )
        seen[entry.name] = entry.tensor


def _check_variable_names(variables: list[VariableInfo]) -> None:
    seen: dict[str, str] = {}
    for var in variables:
        if var.name != var.node_name and not is_c_identifier(var.name):
            raise ConfigError(
                f"variable name '{var.name}' (node '{var.node_name}') is not a valid C/C++ "
                "identifier; use letters, digits and '_', not starting with a digit"
            )
        if var.name in seen:
            raise ConfigError(
                f"two variables are named '{var.name}' (nodes '{seen[var.name]}' and "
                f"'{var.node_name}'); variable names must be unique"
            )
        seen[var.name] = var.node_name


def _check_duplicate_feeds(feeds: list[FeedInfo]) -> None:
    seen: dict[TensorRef, FeedInfo] = {}
    for feed in feeds:
        if feed.tensor in seen:
            raise ConfigError(
                f"tensor {feed.tensor} is fed twice (feeds '{seen[feed.tensor].label}' and "
                f"'{feed.label}')"
            )
        seen[feed.tensor] = feed


# ---------------------------------------------------------------------------------------
# The walk


class _Walk:
    """Backward reachability from the fetches, with the checks done on the way."""

    def __init__(self, nodes, feeds: list[FeedInfo], variables: list[VariableInfo]):
        self.nodes = nodes
        self.fed_tensors = {f.tensor for f in feeds}
        self.fed_nodes = {f.tensor.node_name for f in feeds}
        self.variable_nodes = {v.node_name for v in variables}
        self.needed: set[str] = set()
        # node -> the node that first needed it (None for a fetched node); gives the
        # dependency chain in error messages.
        self.parent: dict[str, str | None] = {}
        self.fetch_of: dict[str, FetchInfo] = {}

    def visit_fetch(self, fetch: FetchInfo) -> None:
        if fetch.tensor in self.fed_tensors:
            return  # the result is an argument, passed through
        self._visit(fetch.tensor.node_name, None, fetch)

    def _visit(self, start: str, parent: str | None, fetch: FetchInfo) -> None:
        stack = [(start, parent)]
        while stack:
            name, parent = stack.pop()
            if name in self.needed:
                continue
            self.needed.add(name)
            self.parent[name] = parent
            self.fetch_of[name] = fetch
            node = self.nodes[name]
            self._check_node(node)
            for text in node.input:
                if node.op in INPUTS_IGNORED and not text.startswith("^"):
                    continue
                producer = self._producer(node, text)
                if producer is not None and producer not in self.needed:
                    stack.append((producer, name))

    def _producer(self, node: NodeDef, text: str) -> str | None:
        """The node to visit for input `text` of `node`, or None if the input is fed."""
        tensor, is_control = parse_input(text)
        if tensor.node_name not in self.nodes:
            raise GraphError(
                f"node '{node.name}' ({node.op}) has input '{text}', but the graph has no "
                f"node '{tensor.node_name}'.{_closest(tensor.node_name, self.nodes)}"
            )
        if is_control:
            # A fed node's results exist before anything runs, so a control edge on
            # it is already satisfied.
            return None if tensor.node_name in self.fed_nodes else tensor.node_name
        return None if tensor in self.fed_tensors else tensor.node_name

    def _check_node(self, node: NodeDef) -> None:
        if node.op in _PLACEHOLDER_OPS:
            self._fail_unfed(node, "is not fed; add it to the Config's feeds, e.g. "
                             f'feed {{ id {{ node_name: "{node.name}" }} shape {{ ... }} }}')
        if node.op in _VARIABLE_OPS and node.name not in self.variable_nodes:
            self._fail_unfed(
                node,
                "is a variable that the Config does not list; freeze the graph or add "
                f'variable {{ node_name: "{node.name}" type: ... shape {{ ... }} }} '
                "to the Config",
            )

    def _fail_unfed(self, node: NodeDef, problem: str) -> None:
        fetch = self.fetch_of[node.name]
        chain = [node.name]
        while self.parent[chain[-1]] is not None:
            chain.append(self.parent[chain[-1]])
        via = " <- ".join(f"'{n}'" for n in reversed(chain))
        needed_by = _describe("fetch", fetch.name, fetch.tensor)
        raise ConfigError(
            f"node '{node.name}' ({node.op}) is needed by {needed_by} (through {via}) "
            f"but {problem}"
        )


def _topological_order(
    needed: set[str],
    nodes: dict[str, NodeDef],
    fed_tensors: set[TensorRef],
    fed_nodes: set[str],
) -> list[NodeDef]:
    """Order the needed nodes so producers come first, keeping the file order otherwise.

    A TF1 loop's NextIteration -> Merge edge is a back edge (as in TF's executor), not a
    dependency; frontend/functionalize.py turns the loop into a While node later.
    """
    position = {name: i for i, name in enumerate(nodes)}
    deps: dict[str, set[str]] = {name: set() for name in needed}
    for name in needed:
        for text in nodes[name].input:
            tensor, is_control = parse_input(text)
            if nodes[name].op in INPUTS_IGNORED and not is_control:
                continue
            cut = tensor.node_name in fed_nodes if is_control else tensor in fed_tensors
            back = (nodes[name].op in _MERGE_OPS
                    and nodes[tensor.node_name].op in _NEXT_ITERATION_OPS)
            if not cut and not back:
                deps[name].add(tensor.node_name)
    names, stuck = stable_topological_order(sorted(needed, key=position.get), deps, position)
    order = [nodes[name] for name in names]
    if stuck:
        cycle = _find_cycle(stuck, deps)
        raise GraphError(
            "the graph has a cycle among the nodes the fetches need: "
            + " -> ".join(f"'{n}' ({nodes[n].op})" for n in cycle)
            + "; cycles are only valid through a TensorFlow 1 while loop's NextIteration"
        )
    return order


def _find_cycle(stuck: set[str], deps: dict[str, set[str]]) -> list[str]:
    """One cycle among `stuck` nodes (each has a dependency inside the set)."""
    start = min(stuck)
    path, seen = [start], {start: 0}
    while True:
        nxt = min(d for d in deps[path[-1]] if d in stuck)
        if nxt in seen:
            cycle = path[seen[nxt]:] + [nxt]
            return list(reversed(cycle))  # producer -> consumer order
        seen[nxt] = len(path)
        path.append(nxt)
