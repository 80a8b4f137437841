"""SavedModels in, a GraphDef and a Config out, without TensorFlow.

`load_saved_model(directory, ...)` reads `saved_model.pb` (or `.pbtxt`) with our own
schemas, picks the MetaGraph tagged `tag_set` and its signature `signature_def_key`, and
returns what the rest of the frontend compiles: the MetaGraph's graph, a tf2xla Config
whose feeds are the signature's inputs and whose fetches are its outputs (each sorted by
key), and the saved values of the variables the fetches need.

Names. By default an input's key is its argument's name, an output's key its result's name,
and a fed variable's node name its name (characters a C identifier cannot hold become '_').
`naming="saved_model_cli"` gives the names `saved_model_cli aot_compile_cpu` gives:
`feed_<key>`, `fetch_<key>`, and `param_<variable node>` for fed variables ('/' becomes
'_' in all of them).

Variables. Every variable node the fetches reach (VarHandleOp, or VariableV2 in TF1
graphs) becomes a Config variable. Those in `variables_to_feed` (or all, for
`variables_to_feed="all"`) stay arguments, readonly unless the graph assigns to them; the
others are frozen: listed last, readonly, and lowered as constants holding their saved
values (`lower(subgraph, frozen=...)`). A variable the signature assigns to cannot
be frozen, and the error says to feed it.

Where a variable's value is saved: TF2 SavedModels capture variables as trailing inputs
of the signature's StatefulPartitionedCall; the object graph's concrete function lists
which object each captured input is (`bound_inputs`), and walking the object graph and the
checkpoint's own object graph (`_CHECKPOINTABLE_OBJECT_GRAPH`) together by child name
gives that object's checkpoint key. TF1 SavedModels say it in their saver's restore op
(the key, and for a part of a partitioned variable its slice of the saved tensor); graphs
without one are looked up by variable node name.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np
from google.protobuf import message as _message
from google.protobuf import text_format

from .errors import FrontendError
from .functions import called_functions
from .graph import GraphDef, numpy_dtype, shape_from_proto
from .prune import parse_input
from .proto import aotc_saved_model_pb2, aotc_tf2xla_pb2, aotc_trackable_object_graph_pb2
from .tensor_bundle import TensorBundle
from .tensor_slices import parse_slice_spec

__all__ = ["SavedModelError", "SavedModelGraph", "load_saved_model", "is_saved_model",
           "NAMINGS"]

_VARIABLE_OPS = frozenset({"VarHandleOp", "VariableV2", "Variable", "VariableV1"})
#: Ops that read a variable without changing it.
_READ_ONLY_OPS = frozenset({"ReadVariableOp", "ResourceGather", "ResourceGatherNd",
                            "VariableShape", "VarIsInitializedOp"})
#: Ops that update a reference variable (VariableV2) given as their first input; any
#: other op reads it.
_REF_UPDATE_OPS = frozenset({"Assign", "AssignAdd", "AssignSub", "ScatterUpdate",
                             "ScatterAdd", "ScatterSub", "ScatterMul", "ScatterDiv",
                             "ScatterNdUpdate", "ScatterNdAdd", "ScatterNdSub"})
#: Ops that pass a variable handle on to their consumers.
_PASS_THROUGH_OPS = frozenset({"Identity", "IdentityN"})
#: Function-calling ops whose input i is input i of the function they call...
_CALL_OPS = frozenset({"PartitionedCall", "StatefulPartitionedCall", "While",
                       "StatelessWhile"})
#: ... and those whose first input selects the branch, so input i is the branch's i-1.
_BRANCH_OPS = frozenset({"If", "StatelessIf", "Case", "StatelessCase"})

_OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
_VARIABLE_VALUE = "VARIABLE_VALUE"


class SavedModelError(FrontendError):
    """A SavedModel directory that cannot be compiled as asked (tags, signature, ...)."""


class _Naming(NamedTuple):
    """How inputs, outputs (by key) and fed variables (by node name) are named."""

    feed: Callable[[str], str]
    fetch: Callable[[str], str]
    variable: Callable[[str], str]


def _identifier(text: str) -> str:
    """`text` with every character that cannot be in a C identifier as '_'."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return "_" + name if name[:1].isdigit() else name


def _slashes(prefix: str) -> Callable[[str], str]:
    # saved_model_cli replaces '/' only; anything else invalid is reported by name.
    return lambda text: prefix + text.replace("/", "_")


#: Naming conventions by name: the signature's own keys, or saved_model_cli's.
NAMINGS = {"signature": _Naming(_identifier, _identifier, _identifier),
           "saved_model_cli": _Naming(_slashes("feed_"), _slashes("fetch_"),
                                      _slashes("param_"))}


@dataclass
class SavedModelGraph:
    """What one signature of a SavedModel compiles: a graph, a Config, frozen values.

    `frozen` maps the node of each frozen variable (the last Config variables, all
    readonly) to its saved value, for `frontend.lower.lower(..., frozen=)` to compile in.
    """

    graph: GraphDef
    config: aotc_tf2xla_pb2.Config
    frozen: dict[str, np.ndarray] = field(default_factory=dict)


def is_saved_model(path) -> bool:
    """True when `path` is a directory (SavedModels are directories)."""
    return isinstance(path, (str, os.PathLike)) and os.path.isdir(path)


def load_saved_model(directory, signature_def_key: str = "serving_default",
                     tag_set: str = "serve", variables_to_feed=(),
                     checkpoint_path: str | None = None,
                     naming: str = "signature") -> SavedModelGraph:
    """Read the SavedModel in `directory` and prepare signature `signature_def_key` of
    its MetaGraph tagged `tag_set` (comma-separated tags) for compiling.

    `variables_to_feed`: variable node names to keep as arguments, or "all".
    `checkpoint_path`: the checkpoint prefix (default `<directory>/variables/variables`).
    """
    directory = os.fspath(directory)
    meta_graph = _meta_graph(_read(directory), directory, tag_set)
    signature = _signature(meta_graph, signature_def_key, directory)
    names = NAMINGS[naming]
    graph = meta_graph.graph_def
    nodes = {n.name: n for n in graph.node}

    config = aotc_tf2xla_pb2.Config()
    for key in sorted(signature.inputs):
        _add_feed(config, key, signature.inputs[key], names.feed(key), signature_def_key, nodes)
    for key in sorted(signature.outputs):
        _add_fetch(config, key, signature.outputs[key], names.fetch(key), signature_def_key,
                   nodes)

    reachable = _reachable(config, nodes)
    needed = sorted(n.name for n in reachable if n.op in _VARIABLE_OPS)
    fed = _fed_variables(variables_to_feed, needed, signature_def_key)
    functions = {f.signature.name: f for f in graph.library.function}
    for name in fed:
        _add_variable(config, nodes[name], names.variable(name),
                      readonly=not _modified(name, reachable, functions))
    frozen_names = [n for n in needed if n not in fed]
    frozen = {}
    if frozen_names:
        values = _Checkpoint(directory, checkpoint_path, meta_graph)
        for name in frozen_names:
            if _modified(name, reachable, functions):
                raise SavedModelError(
                    f"signature '{signature_def_key}' assigns to variable '{name}', so its "
                    f"saved value cannot be compiled in as a constant; feed it instead "
                    f"(--variables_to_feed {name})")
            frozen[name] = values.value_of(nodes[name])
            _add_variable(config, nodes[name], name, readonly=True)  # never shown
    return SavedModelGraph(graph, config, frozen)


# ---------------------------------------------------------------------------------------
# Reading and selecting


def _read(directory: str) -> aotc_saved_model_pb2.SavedModel:
    if not os.path.isdir(directory):
        raise SavedModelError(f"SavedModel directory '{directory}' does not exist")
    model = aotc_saved_model_pb2.SavedModel()
    binary, text = (os.path.join(directory, f) for f in ("saved_model.pb", "saved_model.pbtxt"))
    try:
        if os.path.exists(binary):
            with open(binary, "rb") as f:
                model.ParseFromString(f.read())
        elif os.path.exists(text):
            with open(text, encoding="utf-8") as f:
                text_format.Parse(f.read(), model, allow_unknown_field=True)
        else:
            raise SavedModelError(f"'{directory}' is not a SavedModel: it has no "
                                  "saved_model.pb (nor saved_model.pbtxt)")
    except (_message.DecodeError, text_format.ParseError, UnicodeDecodeError) as e:
        raise SavedModelError(f"'{directory}/saved_model.pb' does not parse as a "
                              f"SavedModel: {e}") from None
    except OSError as e:
        raise SavedModelError(f"cannot read the SavedModel in '{directory}': "
                              f"{e.strerror or e}") from None
    if not model.meta_graphs:
        raise SavedModelError(f"the SavedModel in '{directory}' has no MetaGraph")
    return model


def _meta_graph(model, directory: str, tag_set: str):
    wanted = {t.strip() for t in tag_set.split(",") if t.strip()}
    available = [sorted(mg.meta_info_def.tags) for mg in model.meta_graphs]
    for meta_graph, tags in zip(model.meta_graphs, available):
        if set(tags) == wanted:
            return meta_graph
    listed = "; ".join(",".join(tags) or "(no tags)" for tags in available)
    raise SavedModelError(f"the SavedModel in '{directory}' has no MetaGraph tagged "
                          f"'{','.join(sorted(wanted))}'; its tag sets: {listed} "
                          "(choose one with --tag_set)")


def _signature(meta_graph, key: str, directory: str):
    if key not in meta_graph.signature_def:
        keys = ", ".join(sorted(k for k in meta_graph.signature_def
                                if not k.startswith("__"))) or "none"
        raise SavedModelError(f"the SavedModel in '{directory}' has no signature '{key}'; "
                              f"its signatures: {keys} (choose one with "
                              "--signature_def_key)")
    signature = meta_graph.signature_def[key]
    if not signature.outputs:
        raise SavedModelError(f"signature '{key}' has no outputs; nothing to compile")
    return signature


# ---------------------------------------------------------------------------------------
# Feeds, fetches and variables


def _tensor(info, what: str, nodes) -> tuple[str, int]:
    encoding = info.WhichOneof("encoding")
    if encoding != "name":
        kind = {"coo_sparse": "a sparse tensor", "composite_tensor": "a composite tensor"}
        raise SavedModelError(f"{what} is {kind.get(encoding, 'not a named tensor')}; aotc "
                              "compiles dense tensors only")
    ref, _ = parse_input(info.name)
    if ref.node_name not in nodes:
        raise SavedModelError(f"{what} names tensor '{info.name}', which is not in the graph")
    return ref


def _add_feed(config, key: str, info, name: str, signature: str, nodes) -> None:
    what = f"input '{key}' of signature '{signature}'"
    ref = _tensor(info, what, nodes)
    shape = shape_from_proto(info.tensor_shape)
    if shape is None or any(d < 0 for d in shape):
        dims = "<unknown rank>" if shape is None else \
            "[" + ", ".join("?" if d < 0 else str(d) for d in shape) + "]"
        raise SavedModelError(f"{what} has shape {dims}, which is not fully defined; aotc "
                              "compiles for fixed shapes, as saved_model_cli does: save the "
                              "model with a fully defined input signature, e.g. "
                              "tf.TensorSpec([1, ...])")
    numpy_dtype(info.dtype, what)
    feed = config.feed.add(name=name, type=info.dtype)
    feed.id.node_name, feed.id.output_index = ref
    feed.shape.CopyFrom(info.tensor_shape)


def _add_fetch(config, key: str, info, name: str, signature: str, nodes) -> None:
    ref = _tensor(info, f"output '{key}' of signature '{signature}'", nodes)
    fetch = config.fetch.add(name=name, type=info.dtype)
    fetch.id.node_name, fetch.id.output_index = ref
    if not info.tensor_shape.unknown_rank:
        fetch.shape.CopyFrom(info.tensor_shape)


def _add_variable(config, node, name: str, readonly: bool) -> None:
    var = config.variable.add(node_name=node.name, name=name, readonly=readonly)
    if "dtype" in node.attr:
        var.type = node.attr["dtype"].type
    if "shape" in node.attr:
        var.shape.CopyFrom(node.attr["shape"].shape)


def _reachable(config, nodes) -> list:
    """The top-level nodes the fetches reach, in graph order (captured variables are
    inputs of the call nodes there)."""
    fed = {f.id.node_name for f in config.feed}
    stack = [f.id.node_name for f in config.fetch if f.id.node_name not in fed]
    seen = set(stack)
    while stack:
        node = nodes[stack.pop()]
        for text in node.input:
            name = parse_input(text)[0].node_name
            if name in nodes and name not in seen and name not in fed:
                seen.add(name)
                stack.append(name)
    return [node for name, node in nodes.items() if name in seen]


def _fed_variables(variables_to_feed, needed: list[str], signature: str) -> list[str]:
    if isinstance(variables_to_feed, str):
        if variables_to_feed.strip().lower() == "all":
            return list(needed)
        variables_to_feed = [v for v in variables_to_feed.split(",") if v.strip()]
    wanted = [v.strip() for v in variables_to_feed]
    unknown = [v for v in wanted if v not in needed]
    if unknown:
        raise SavedModelError(
            f"--variables_to_feed names {', '.join(repr(v) for v in unknown)}, which "
            f"signature '{signature}' does not use; its variables: "
            f"{', '.join(needed) or 'none'}")
    return sorted(set(wanted))


def _modified(name: str, reachable, functions) -> bool:
    """Whether anything the graph runs may assign to variable node `name`: its handle is
    followed through pass-through ops and into the bodies of the functions it is passed
    to; any op other than a read that takes a resource handle counts as an assignment.
    A reference variable (VariableV2) is read by every op but the ref-updating ones."""
    visited: set[tuple[str, str]] = set()
    ref = next(n.op for n in reachable if n.name == name) != "VarHandleOp"

    def visit(uses, users_of) -> bool:
        for node, index in uses:
            if ref and node.op not in _PASS_THROUGH_OPS:
                if node.op in _REF_UPDATE_OPS and index == 0:
                    return True
                continue
            if node.op in _READ_ONLY_OPS:
                continue
            if node.op in _PASS_THROUGH_OPS:
                if visit(users_of(node.name), users_of):
                    return True
                continue
            offset = 0 if node.op in _CALL_OPS or node.op in functions else \
                1 if node.op in _BRANCH_OPS else None
            if offset is None or index < offset:
                return True
            for _, callee in called_functions(node) or [("", node.op)]:
                fn = functions.get(callee)
                if fn is None or index - offset >= len(fn.signature.input_arg):
                    return True
                arg = fn.signature.input_arg[index - offset].name
                if (callee, arg) in visited:
                    continue
                visited.add((callee, arg))
                body_users = _users(fn.node_def)
                if visit(body_users(arg), body_users):
                    return True
        return False

    top_users = _users(reachable)
    return visit(top_users(name), top_users)


def _users(nodes):
    """producer -> the (node, input index) pairs that read one of its outputs; in a
    function body a producer is an input arg ("x") or a node ("n:output:0")."""
    table: dict[str, list] = {}
    for node in nodes:
        for index, text in enumerate(node.input):
            if not text.startswith("^"):
                table.setdefault(text.split(":", 1)[0], []).append((node, index))
    return lambda producer: table.get(producer, [])


# ---------------------------------------------------------------------------------------
# Saved values


class _Checkpoint:
    """The saved values of a SavedModel's variables, by variable node."""

    def __init__(self, directory: str, checkpoint_path: str | None, meta_graph):
        self.prefix = checkpoint_path or os.path.join(directory, "variables", "variables")
        if not os.path.exists(self.prefix + ".index"):
            raise SavedModelError(f"the SavedModel's variables are not there: "
                                  f"'{self.prefix}.index' does not exist")
        self.bundle = TensorBundle(self.prefix)
        self.meta_graph = meta_graph
        self._keys = self._object_keys() if _OBJECT_GRAPH_KEY in self.bundle else {}
        self._restored = _restored_slices(meta_graph.graph_def)

    def value_of(self, node) -> np.ndarray:
        key, region = self._keys.get(node.name), None
        if key is None and node.name in self._restored:  # TF1: as the saver restores it
            key, spec = self._restored[node.name]
            try:
                region = parse_slice_spec(spec)[1]
            except ValueError as e:
                raise SavedModelError(f"variable '{node.name}': the restore op's {e}") from None
        if key is None:  # TF1 graphs without a saver: saved under the variable's name
            shared = node.attr["shared_name"].s.decode() if "shared_name" in node.attr else ""
            key = next((k for k in (node.name, shared) if k and k in self.bundle), None)
        if key is None:
            raise SavedModelError(f"variable '{node.name}' ({node.op}) has no saved value in "
                                  f"checkpoint '{self.prefix}'")
        value = self.bundle.read(key, region)
        dtype = numpy_dtype(node.attr["dtype"].type, f"variable '{node.name}'")
        shape = shape_from_proto(node.attr["shape"].shape) if "shape" in node.attr else None
        if not isinstance(value, np.ndarray) or value.dtype != dtype or (
                shape is not None and tuple(value.shape) != shape):
            got = f"{value.dtype} {list(value.shape)}" if isinstance(value, np.ndarray) \
                else "a string"
            raise SavedModelError(f"variable '{node.name}' is {dtype} {list(shape or [])}, "
                                  f"but checkpoint key '{key}' holds {got}")
        return value

    def _object_keys(self) -> dict[str, str]:
        """Variable node name -> checkpoint key, through TF2's object graphs."""
        saved = self.meta_graph.object_graph_def
        if not saved.nodes:
            return {}
        checkpoint = aotc_trackable_object_graph_pb2.TrackableObjectGraph.FromString(
            self.bundle.read(_OBJECT_GRAPH_KEY))
        keys_by_object = _match_objects(saved, checkpoint)
        keys = {}
        for node in self.meta_graph.graph_def.node:
            if "f" not in node.attr:
                continue
            fn = saved.concrete_functions.get(node.attr["f"].func.name)
            if fn is None or not fn.bound_inputs:
                continue
            captured = [t for t in node.input if not t.startswith("^")][-len(fn.bound_inputs):]
            for text, object_id in zip(captured, fn.bound_inputs):
                if object_id in keys_by_object:
                    keys[parse_input(text)[0].node_name] = keys_by_object[object_id]
        return keys


def _restored_slices(graph) -> dict[str, tuple[str, str]]:
    """Variable node name -> (checkpoint key, shape-and-slice spec), as the TF1 saver's
    RestoreV2 ops restore them: output k of a RestoreV2 (through Identity nodes) is
    assigned to the variable, and entry k of its `tensor_names` and `shape_and_slices`
    constants says what is read. This is how a part of a partitioned variable (`w/part_1`)
    finds its slice of the saved tensor `w`."""
    nodes = {n.name: n for n in graph.node}

    def strings(text: str) -> list[str]:
        const = nodes.get(parse_input(text)[0].node_name)
        if const is None or const.op != "Const":
            return []
        return [v.decode("utf-8", "replace") for v in const.attr["value"].tensor.string_val]

    restored = {}
    for node in graph.node:
        if node.op not in ("Assign", "AssignVariableOp") or len(node.input) < 2:
            continue
        source, _ = parse_input(node.input[1])
        while source.node_name in nodes and nodes[source.node_name].op == "Identity":
            source, _ = parse_input(nodes[source.node_name].input[0])
        restore = nodes.get(source.node_name)
        if restore is None or restore.op != "RestoreV2" or len(restore.input) < 3:
            continue
        names, specs = strings(restore.input[1]), strings(restore.input[2])
        k = source.output_index
        if k < len(names) and len(names) == len(specs):
            restored[parse_input(node.input[0])[0].node_name] = (names[k], specs[k])
    return restored


def _match_objects(saved, checkpoint) -> dict[int, str]:
    """Saved object id -> checkpoint key of its variable value, for every variable object
    reachable in both graphs by the same path of child names."""
    if not checkpoint.nodes:
        return {}
    keys, stack, seen = {}, [(0, 0)], {0}
    while stack:
        saved_id, checkpoint_id = stack.pop()
        ck = checkpoint.nodes[checkpoint_id]
        for attr in ck.attributes:
            if attr.name == _VARIABLE_VALUE:
                keys[saved_id] = attr.checkpoint_key
        by_name = {c.local_name: c.node_id for c in ck.children}
        for child in saved.nodes[saved_id].children:
            target = by_name.get(child.local_name)
            if target is not None and child.node_id not in seen \
                    and 0 <= target < len(checkpoint.nodes) \
                    and child.node_id < len(saved.nodes):
                seen.add(child.node_id)
                stack.append((child.node_id, target))
    return keys

