"""TensorFlow functions: the GraphDef's FunctionDef library and lowering function bodies.

TF2 graphs keep the bodies of tf.function calls and of v2 control flow (If, While, Case)
in `GraphDef.library`; nodes name them through `func` attrs (`f`, `then_branch`, `cond`,
`branches`, ...). aotc never emits an HLO `call` for them: a function body is lowered
straight into whatever Builder the caller gives, so a PartitionedCall is inlined into the
calling computation and a While's body becomes the body computation of an HLO while.

Inside a FunctionDef, node inputs are written differently from a GraphDef:

    "x"                  function input arg `x`
    "node:out_arg:k"     element k of output arg `out_arg` of body node `node`
    "^node"              control edge

and the function's results are `ret[output_arg.name]`, in the same syntax. Turning
`out_arg:k` into a flat output index needs the op's output arg layout (its OpDef). aotc
has no TF op registry, so `MULTI_OUTPUT_ARGS` lists the layouts of the ops that have more
than one output arg; every other op has one output arg and `k` is the index.

Only the body nodes that matter are lowered: those the results depend on and those the
function must run (`control_ret`, e.g. a variable assignment), found walking back over
data and control edges. The walk does not enter the data inputs of ops that ignore them
in compiled code (`INPUTS_IGNORED`: an Assert's message strings, which no tensor type
could hold); such ops are lowered with no inputs.

TF1 graphs also call a function through a node whose op is the function's name (Defun);
`function_ops_as_calls` rewrites those into PartitionedCalls before anything else.

Before anything is lowered, `FunctionLibrary.check` walks every function the subgraph
can reach, reporting recursion and missing functions, and collecting op types that have
no lowering rule so that lower.py can list them together with the top level's.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Callable, Iterable

from .errors import FrontendError, FunctionNode
from .proto import aotc_function_pb2, aotc_node_def_pb2
from .toposort import stable_topological_order
from .prune import INPUTS_IGNORED, TensorRef

__all__ = ["FunctionLibrary", "INPUTS_IGNORED", "MULTI_OUTPUT_ARGS", "called_functions",
           "function_ops_as_calls", "lower_function_body", "needed_nodes", "output_index",
           "parse_body_input"]

#: Ops with several output args: op type -> the args' names in order, each one tensor.
MULTI_OUTPUT_ARGS: dict[str, tuple[str, ...]] = {
    "FusedBatchNorm": ("y", "batch_mean", "batch_variance", "reserve_space_1",
                       "reserve_space_2"),
    "FusedBatchNormV2": ("y", "batch_mean", "batch_variance", "reserve_space_1",
                         "reserve_space_2"),
    "FusedBatchNormV3": ("y", "batch_mean", "batch_variance", "reserve_space_1",
                         "reserve_space_2", "reserve_space_3"),
    "Unique": ("y", "idx"),
    "UniqueV2": ("y", "idx"),
    "UniqueWithCounts": ("y", "idx", "count"),
    "TopK": ("values", "indices"),
    "TopKV2": ("values", "indices"),
    "MaxPoolWithArgmax": ("output", "argmax"),
    "SoftmaxCrossEntropyWithLogits": ("loss", "backprop"),
    "SparseSoftmaxCrossEntropyWithLogits": ("loss", "backprop"),
    "BroadcastGradientArgs": ("r0", "r1"),
    "ListDiff": ("out", "idx"),
    "Qr": ("q", "r"),
    "Svd": ("s", "u", "v"),
    "SelfAdjointEigV2": ("e", "v"),
    "Lu": ("lu", "p"),
    "TensorListPopBack": ("output_handle", "tensor"),
    "TensorListConcatV2": ("tensor", "lengths"),
    "NonMaxSuppressionV4": ("selected_indices", "valid_outputs"),
    "NonMaxSuppressionV5": ("selected_indices", "selected_scores", "valid_outputs"),
    # TF1 control flow in function bodies (frontend/functionalize.py removes it).
    "Switch": ("output_false", "output_true"),
    "RefSwitch": ("output_false", "output_true"),
    "Merge": ("output", "value_index"),
    "RefMerge": ("output", "value_index"),
}


def called_functions(node) -> list[tuple[str, str]]:
    """(attr name, function name) for every function `node` names in its attrs.

    Generic over attrs, so If's then_branch/else_branch, While's cond/body, Case's
    branches and PartitionedCall's f are all found without a table.
    """
    found = []
    for key in sorted(node.attr):
        value = node.attr[key]
        case = value.WhichOneof("value")
        if case == "func":
            found.append((key, value.func.name))
        elif case == "list":
            found.extend((key, f.name) for f in value.list.func)
    return found


class FunctionLibrary:
    """The FunctionDefs of a graph, by name."""

    def __init__(self, library):
        self._functions = {f.signature.name: f for f in library.function}

    def __contains__(self, name: str) -> bool:
        return name in self._functions

    def get(self, name: str, node, attr: str):
        """The FunctionDef `node` names in `attr`, or a FrontendError naming both."""
        try:
            return self._functions[name]
        except KeyError:
            raise FrontendError(
                f"node '{node.name}' ({node.op}): attr '{attr}' names function '{name}', "
                "which the graph's function library does not define") from None

    def check(self, nodes: Iterable,
              supported: Callable[[str], bool]) -> dict[str, list[FunctionNode]]:
        """Walk every function reachable from `nodes`; return op type -> the body nodes
        with no lowering rule. Raises FrontendError for a missing function or for
        recursion (which has no static unrolling)."""
        missing: dict[str, list[FunctionNode]] = {}
        done: set[str] = set()

        def visit(node, active: tuple[str, ...]) -> None:
            for attr, name in called_functions(node):
                if name in active:
                    cycle = " -> ".join(f"'{f}'" for f in active[active.index(name):] + (name,))
                    raise FrontendError(
                        f"node '{node.name}' ({node.op}) calls function '{name}' recursively "
                        f"({cycle}); aotc needs a call graph without cycles")
                fn = self.get(name, node, attr)
                if name in done:
                    continue
                for inner in needed_nodes(fn):
                    if not supported(inner.op):
                        missing.setdefault(inner.op, []).append(FunctionNode(name, inner.name))
                    visit(inner, active + (name,))
                done.add(name)

        for node in nodes:
            visit(node, ())
        return missing


# ---------------------------------------------------------------------------------------
# Function-named ops (TF1's Defun)


def function_ops_as_calls(subgraph):
    """`subgraph` with every node whose op names a library function (how TF1's Defun and
    tfcompile's tffunction graph call functions) turned into the PartitionedCall it
    means, in the graph and in function bodies. In bodies, the callers' references
    'node:out_arg:k' become 'node:output:i', i the flat index of that output arg."""
    functions = {f.signature.name: f for f in subgraph.library.function}
    if not functions or not (
            any(n.op in functions for n in subgraph.nodes)
            or any(n.op in functions for f in functions.values() for n in f.node_def)):
        return subgraph
    library = aotc_function_pb2.FunctionDefLibrary()
    library.CopyFrom(subgraph.library)
    for fn in library.function:
        calls = {n.name: functions[n.op] for n in fn.node_def if n.op in functions}
        for node in fn.node_def:
            _rewrite_call_outputs(node.input, calls)
            if node.name in calls:
                _as_call(node, calls[node.name])
        for key, text in list(fn.ret.items()):
            fixed = [text]
            _rewrite_call_outputs(fixed, calls)
            fn.ret[key] = fixed[0]
    nodes = []
    for node in subgraph.nodes:
        if node.op in functions:
            node = aotc_node_def_pb2.NodeDef.FromString(node.SerializeToString())
            _as_call(node, functions[node.op])
        nodes.append(node)
    return replace(subgraph, nodes=nodes, library=library)


def _as_call(node, fn) -> None:
    node.op = "PartitionedCall"
    node.attr["f"].func.name = fn.signature.name
    # PartitionedCall's signature wants its argument and result types (op contracts).
    for attr, args in (("Tin", fn.signature.input_arg), ("Tout", fn.signature.output_arg)):
        if attr not in node.attr and all(a.type for a in args):
            node.attr[attr].list.SetInParent()  # an empty list is still a list
            node.attr[attr].list.type.extend(a.type for a in args)


def _rewrite_call_outputs(inputs, calls: dict) -> None:
    for k, text in enumerate(inputs):
        producer, arg, index = parse_body_input(text)
        if arg is None or producer not in calls or text.startswith("^"):
            continue
        names = [o.name for o in calls[producer].signature.output_arg]
        if arg not in names:
            raise FrontendError(f"'{text}' names output '{arg}' of a call to function "
                                f"'{calls[producer].signature.name}', which has outputs "
                                f"{', '.join(names)}")
        inputs[k] = f"{producer}:output:{names.index(arg) + index}"


# ---------------------------------------------------------------------------------------
# Lowering a body


def output_index(op: str, arg: str, k: int) -> int:
    """The flat output index of element `k` of output arg `arg` of an `op` node."""
    layout = MULTI_OUTPUT_ARGS.get(op)
    if layout is None:
        return k
    if arg not in layout:
        raise FrontendError(f"op {op} has no output arg '{arg}' (its outputs: "
                            f"{', '.join(layout)})")
    return layout.index(arg) + k


def parse_body_input(text: str) -> tuple[str, str | None, int]:
    """'x' -> ('x', None, 0); 'node:arg:2' -> ('node', 'arg', 2); '^node' -> ('node', ...)."""
    text = text.lstrip("^")
    parts = text.split(":")
    if len(parts) == 3 and parts[2].isdigit():
        return parts[0], parts[1], int(parts[2])
    if len(parts) == 2 and parts[1].isdigit():  # GraphDef style, seen in hand-made bodies
        return parts[0], None, int(parts[1])
    return text, None, 0


def needed_nodes(fn) -> list:
    """The body nodes the results or the function's side effects need, in file order (see
    the module docstring)."""
    nodes = {n.name: n for n in fn.node_def}
    stack = [parse_body_input(text)[0] for text in fn.ret.values()]
    stack += list(fn.control_ret.values())
    needed: set[str] = set()
    while stack:
        name = stack.pop()
        if name in needed or name not in nodes:
            continue  # an input arg, or already visited
        needed.add(name)
        node = nodes[name]
        for text in node.input:
            if text.startswith("^") or node.op not in INPUTS_IGNORED:
                stack.append(parse_body_input(text)[0])
    return [n for n in fn.node_def if n.name in needed]


def _body_order(fn) -> list:
    """The needed nodes with producers (data and control) first, keeping file order."""
    nodes = {n.name: n for n in needed_nodes(fn)}
    position = {name: i for i, name in enumerate(nodes)}
    deps: dict[str, set[str]] = {name: set() for name in nodes}
    for node in nodes.values():
        for text in node.input:
            producer = parse_body_input(text)[0]
            if producer in nodes:
                deps[node.name].add(producer)
    order, stuck = stable_topological_order(nodes, deps, position)
    if stuck:
        raise FrontendError(f"function '{fn.signature.name}' has a cycle among nodes "
                            + ", ".join(f"'{n}'" for n in sorted(stuck)[:5]))
    return [nodes[name] for name in order]


def lower_function_body(ctx, fn, args: list, caller) -> list:
    """Lower FunctionDef `fn` into `ctx.b` with its input args bound to `args`; returns
    its results in output arg order. `caller` is the calling node, for messages.

    The body gets its own name scope (a copy of `ctx` with empty node_outputs) but shares
    the builder and everything else, so a PartitionedCall body is simply inlined.
    """
    from .ops import variables  # the rules import this module's users
    from .ops.registry import run_rule

    name = fn.signature.name
    where = f"function '{name}' (called by node '{caller.name}' ({caller.op}))"
    active = getattr(ctx, "active_functions", ())
    if name in active:
        raise FrontendError(f"{where} calls itself recursively")
    signature_args = list(fn.signature.input_arg)
    if len(args) != len(signature_args):
        raise FrontendError(f"{where} takes {len(signature_args)} inputs, got {len(args)}")
    for arg in signature_args:
        if arg.number_attr or arg.type_list_attr:
            raise FrontendError(f"{where}: input arg '{arg.name}' is a list; aotc lowers "
                                "functions whose args are single tensors (as tf.function "
                                "writes them)")

    scope = copy.copy(ctx)
    scope.node_outputs = {}
    scope.active_functions = active + (name,)
    bound = {arg.name: value for arg, value in zip(signature_args, args)}
    ops = {n.name: n.op for n in fn.node_def}

    def resolve(text: str, user: str):
        producer, arg, k = parse_body_input(text)
        if producer in bound and arg is None:
            return bound[producer]
        if producer not in ops:
            raise FrontendError(f"{where}: {user} refers to '{text}', which is neither an "
                                "input arg nor a node of the function")
        index = k if arg is None else output_index(ops[producer], arg, k)
        try:
            return scope.node_outputs[TensorRef(producer, index)]
        except KeyError:
            raise FrontendError(f"{where}: {user} refers to '{text}', but node "
                                f"'{producer}' ({ops[producer]}) has no output {index}") from None

    saved_metadata = ctx.b.metadata
    try:
        for node in _body_order(fn):
            ctx.b.metadata = {"op_type": node.op, "op_name": node.name}
            inputs = [resolve(t, f"node '{node.name}'") for t in node.input
                      if not t.startswith("^") and node.op not in INPUTS_IGNORED]
            inputs = variables.resolve_inputs(node, inputs)
            outputs = run_rule(scope, node, inputs)
            for index, value in enumerate(outputs):
                scope.node_outputs[TensorRef(node.name, index)] = value
        results = []
        for out in fn.signature.output_arg:
            if out.name not in fn.ret:
                raise FrontendError(f"{where} does not say which value its output "
                                    f"'{out.name}' returns (no ret entry)")
            results.append(resolve(fn.ret[out.name], f"output '{out.name}'"))
    except FrontendError as error:
        if where in str(error):
            raise
        raise FrontendError(f"{error}\n  in {where}") from None
    finally:
        ctx.b.metadata = saved_metadata
    return results
