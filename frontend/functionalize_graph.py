"""The graph surgery behind frontend/functionalize.py: a mutable graph, regions cut out of
it as function bodies, and the FunctionDefs they become."""

from __future__ import annotations

import functools
from typing import Callable, Iterable

from .errors import GraphError
from .proto import aotc_attr_value_pb2, aotc_node_def_pb2
from .prune import TensorRef
from .prune import parse_input as _parse_input
from .toposort import stable_topological_order

__all__ = ["ENTER_OPS", "EXIT_OPS", "MERGE_OPS", "NEXT_ITERATION_OPS", "SWITCH_OPS",
           "V1_CONTROL_FLOW_OPS", "Graph", "Region", "arg_name", "data_inputs", "dtype_of",
           "func_attr", "make_function", "parse_input", "type_attr", "type_list_attr"]

#: prune.parse_input, cached: the passes re-read every edge after each rewrite.
parse_input = functools.lru_cache(maxsize=1 << 16)(_parse_input)

ENTER_OPS = frozenset({"Enter", "RefEnter"})
EXIT_OPS = frozenset({"Exit", "RefExit"})
MERGE_OPS = frozenset({"Merge", "RefMerge"})
SWITCH_OPS = frozenset({"Switch", "RefSwitch"})
NEXT_ITERATION_OPS = frozenset({"NextIteration", "RefNextIteration"})
V1_CONTROL_FLOW_OPS = (ENTER_OPS | EXIT_OPS | MERGE_OPS | SWITCH_OPS | NEXT_ITERATION_OPS
                       | {"LoopCond"})


def arg_name(k: int) -> str:
    """The name of a generated function's input arg k. TF node names cannot start with
    '_', so it never clashes with a body node."""
    return f"_arg{k}"


class Graph:
    """A mutable graph (a GraphDef's nodes or a function body's) plus the function library
    new functions go to. Node inputs keep GraphDef syntax ('node', 'node:k', '^node')."""

    def __init__(self, nodes: Iterable, library):
        self.nodes: dict[str, object] = {}
        for node in nodes:
            copy = aotc_node_def_pb2.NodeDef()
            copy.CopyFrom(node)
            self.nodes[node.name] = copy
        self.library = library

    def ordered(self, back_edge: Callable[[object, str], bool] = lambda node, p: False) -> list:
        """The nodes with producers first (file order otherwise); `back_edge(node, producer)`
        says which edges to ignore (a loop's NextIteration -> Merge)."""
        position = {name: i for i, name in enumerate(self.nodes)}
        deps = {}
        for name, node in self.nodes.items():
            producers = {parse_input(t)[0].node_name for t in node.input}
            deps[name] = {p for p in producers if p in self.nodes and not back_edge(node, p)}
        order, stuck = stable_topological_order(self.nodes, deps, position)
        if stuck:
            raise GraphError("the graph has a cycle outside TensorFlow 1 while loops among "
                             + ", ".join(f"'{n}'" for n in sorted(stuck)[:5]))
        return [self.nodes[name] for name in order]

    def consumers(self) -> dict[str, list[tuple[object, int, bool]]]:
        """producer name -> (consumer, output index, is_control) for every edge."""
        users: dict[str, list] = {name: [] for name in self.nodes}
        for node in self.nodes.values():
            for text in node.input:
                ref, control = parse_input(text)
                if ref.node_name in users:
                    users[ref.node_name].append((node, ref.output_index, control))
        return users

    def unique_node_name(self, base: str) -> str:
        """`base`, or `base_k` for the first k that no node of this graph is called."""
        name, k = base, 0
        while name in self.nodes:
            k += 1
            name = f"{base}_{k}"
        return name

    def unique_function_name(self, base: str) -> str:
        """`base` with '/' as '_', made unique among the library's functions."""
        taken = {f.signature.name for f in self.library.function}
        base = base.replace("/", "_")
        name, k = base, 0
        while name in taken:
            k += 1
            name = f"{base}_{k}"
        return name

    def add(self, name: str, op: str, inputs: list[str], attrs: dict | None = None):
        """Add node `name` (op, inputs, AttrValues by name) at the end of the graph."""
        node = aotc_node_def_pb2.NodeDef(name=name, op=op, input=inputs)
        for key, value in (attrs or {}).items():
            node.attr[key].CopyFrom(value)
        self.nodes[name] = node
        return node

    def replace_with_identity(self, name: str, source: str) -> None:
        """Make node `name` an Identity of tensor `source`, keeping its name and T attr."""
        old = self.nodes[name]
        node = aotc_node_def_pb2.NodeDef(name=name, op="Identity", input=[source])
        if "T" in old.attr:
            node.attr["T"].CopyFrom(old.attr["T"])
        self.nodes[name] = node

    def remove(self, names: Iterable[str], replaced_by: str) -> None:
        """Drop `names`; control edges on them now wait for node `replaced_by`, and a data
        edge into one of them is an error (only Exits and Merges leave a region)."""
        names = set(names)
        for name in names:
            self.nodes.pop(name, None)
        for node in self.nodes.values():
            inputs = []
            for text in node.input:
                ref, control = parse_input(text)
                if ref.node_name not in names:
                    inputs.append(text)
                elif control:
                    if f"^{replaced_by}" not in inputs and node.name != replaced_by:
                        inputs.append(f"^{replaced_by}")
                else:
                    raise GraphError(
                        f"node '{node.name}' ({node.op}) uses '{text}' from inside the "
                        f"control flow that became '{replaced_by}'; only a loop's Exits and "
                        "a cond's Merges may be used outside it")
            del node.input[:]
            node.input.extend(inputs)


class Region:
    """Nodes cut out of a graph to become a function body.

    Walking back from `roots` (input strings), a tensor in `boundary` becomes the input
    arg given there; a node for which `inside(node)` holds joins the region; reaching a
    node for which `stops(node)` holds other than through the boundary is an error; any
    other node is outside: a constant with no data inputs is copied in, another tensor is
    captured (it must become an input of the new node). Control edges that leave the
    region are dropped: inside a function everything runs after its inputs exist.
    """

    def __init__(self, graph: Graph, roots: list[str], boundary: dict[TensorRef, int],
                 inside: Callable[[object], bool], stops: Callable[[object], bool]):
        self.graph = graph
        self.boundary = boundary
        self.inside = inside
        self.stops = stops
        self.members: list[str] = []
        self.copied: set[str] = set()
        self.captured: list[TensorRef] = []
        self.used: set[TensorRef] = set()  # boundary tensors the region reads
        seen: set[str] = set()
        for text in roots:
            self._walk(text, seen)

    def _walk(self, root: str, seen: set[str]) -> None:
        stack = [(root, None)]
        while stack:
            text, user = stack.pop()
            ref, control = parse_input(text)
            if not control and ref in self.boundary:
                self.used.add(ref)
                continue
            node = self.graph.nodes.get(ref.node_name)
            if node is None:  # a fed tensor, or an arg of the enclosing function
                if not control and ref not in self.captured:
                    self.captured.append(ref)
                continue
            if ref.node_name in seen:
                continue
            if self.stops(node) and not control:
                where = f"node '{user.name}' ({user.op})" if user is not None else "a result"
                raise GraphError(f"{where} uses '{text}' ({node.op}) in a way a "
                                 "tf.while_loop or tf.cond does not; aotc cannot turn this "
                                 "TensorFlow 1 control flow into a While or If")
            if self.stops(node) or not self.inside(node):
                if control:
                    continue
                if node.op == "Const" and all(t.startswith("^") for t in node.input):
                    self.copied.add(ref.node_name)
                elif ref not in self.captured:
                    self.captured.append(ref)
                continue
            seen.add(ref.node_name)
            self.members.append(ref.node_name)
            stack.extend((t, node) for t in node.input)

    def body(self, captured: dict[TensorRef, int]) -> Graph:
        """The region as a graph of its own, inputs rewritten to args (boundary tensors to
        theirs, captured tensors to `captured[ref]`)."""
        graph = Graph([], self.graph.library)
        names = set(self.members) | self.copied
        for name in self.graph.nodes:  # keep the graph's order
            if name not in names:
                continue
            node = aotc_node_def_pb2.NodeDef()
            node.CopyFrom(self.graph.nodes[name])
            inputs = [] if name in self.copied else [self.rewrite(t, captured) for t in node.input]
            del node.input[:]
            node.input.extend(t for t in inputs if t is not None)
            graph.nodes[name] = node
        return graph

    def rewrite(self, text: str, captured: dict[TensorRef, int]) -> str | None:
        """An input string as the function body sees it (None: a dropped control edge)."""
        ref, control = parse_input(text)
        if control:
            inside = ref.node_name in self.members or ref.node_name in self.copied
            return text if inside else None
        if ref in self.boundary:
            return arg_name(self.boundary[ref])
        if ref in captured:
            return arg_name(captured[ref])
        return text


def make_function(graph: Graph, body: Graph, name: str, arg_types: list[int],
                  rets: list[str], ret_types: list[int]) -> str:
    """Add FunctionDef `name` (made unique) with input args `_arg0..`, body `body` and
    results `rets` (input strings in the body's terms) to the library; returns its name."""
    name = graph.unique_function_name(name)
    fn = graph.library.function.add()
    fn.signature.name = name
    for k, dtype in enumerate(arg_types):
        fn.signature.input_arg.add(name=arg_name(k), type=dtype)
    for k, (text, dtype) in enumerate(zip(rets, ret_types)):
        fn.signature.output_arg.add(name=f"out{k}", type=dtype)
        fn.ret[f"out{k}"] = text
    fn.node_def.extend(body.nodes.values())
    return name


def dtype_of(graph: Graph, ref: TensorRef) -> int:
    """The element type of tensor `ref` as far as its node's attrs say (0 when unknown);
    generated signatures carry it for readers, the lowering takes types from values."""
    node = graph.nodes.get(ref.node_name)
    if node is None:
        return 0
    for attr in ("T", "dtype"):
        if attr in node.attr and node.attr[attr].WhichOneof("value") == "type":
            return node.attr[attr].type
    return 0


def data_inputs(node) -> list[str]:
    """A node's input strings without its control edges."""
    return [t for t in node.input if not t.startswith("^")]


def type_attr(dtype: int):
    """An AttrValue holding one type."""
    value = aotc_attr_value_pb2.AttrValue()
    value.type = dtype
    return value


def type_list_attr(types: list[int]):
    """An AttrValue holding a list of types."""
    value = aotc_attr_value_pb2.AttrValue()
    value.list.type.extend(types)
    return value


def func_attr(name: str):
    """An AttrValue naming a function."""
    value = aotc_attr_value_pb2.AttrValue()
    value.func.name = name
    return value
