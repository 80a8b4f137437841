"""Turn TensorFlow 1 control flow into functional While and If nodes, as tf2xla does.

TF1 graphs (tf.compat.v1 with control flow v1, freeze_graph output) express loops and
conditionals with dataflow primitives instead of functions:

    loop   Enter -> Merge <- NextIteration      one Enter per loop variable (is_constant
           Merge -> Switch(pred=LoopCond)       Enters are loop invariants); the cond
           Switch:0 -> Exit, Switch:1 -> body   computes LoopCond from the Merges, the body
                                                feeds the NextIterations
    cond   Switch(x, pred):0 else, :1 then      branch results meet in Merges
           Merge(else_value, then_value)

`functionalize(subgraph)` rewrites them into what the lowering already compiles: each
loop frame (innermost first, `functionalize_while.py`) becomes a `While` node whose cond
and body are new FunctionDefs, and each conditional (innermost first,
`functionalize_cond.py`) an `If` node with then/else FunctionDefs. Bodies are cut out of
the graph along the Switch/Merge/Enter boundaries; values a region uses from outside
without such a boundary become extra inputs (constants are copied in instead). Exits and
Merges are replaced by Identity nodes of the same name that read the new node's outputs,
so consumers, fetches and names stay as they were.

The pass runs after pruning (which orders the graph with NextIteration's back edges
ignored) and before lowering. Graphs without V1 control flow pass through untouched.
"""

from __future__ import annotations

from dataclasses import replace

from .errors import GraphError
from .functionalize_cond import functionalize_conds
from .functionalize_graph import MERGE_OPS, SWITCH_OPS, V1_CONTROL_FLOW_OPS, Graph, data_inputs
from .functionalize_while import functionalize_loops, loop_frames
from .functions import needed_nodes, output_index, parse_body_input
from .proto import aotc_function_pb2
from .prune import Subgraph

__all__ = ["functionalize"]


def functionalize(subgraph: Subgraph) -> Subgraph:
    """`subgraph` with its V1 loops and conds replaced by While and If nodes whose
    functions are added to (a copy of) its library; function bodies holding V1 control
    flow (a TF1 Defun with a tf.cond inside) are functionalized the same way."""
    in_functions = [f.signature.name for f in subgraph.library.function
                    if any(n.op in V1_CONTROL_FLOW_OPS for n in f.node_def)]
    if not in_functions and not any(n.op in V1_CONTROL_FLOW_OPS for n in subgraph.nodes):
        return subgraph
    library = aotc_function_pb2.FunctionDefLibrary()
    library.CopyFrom(subgraph.library)
    for fn in list(library.function):
        if fn.signature.name in in_functions:
            _functionalize_function(fn, library)
    _check_arity(subgraph.nodes)
    graph = Graph(subgraph.nodes, library)
    frames = loop_frames(graph)
    for fetch in subgraph.fetches:
        frame = frames.get(fetch.tensor.node_name)
        if frame:
            raise GraphError(f"fetch '{fetch.label}' is computed inside the loop with frame "
                             f"'{frame}', where it has one value per iteration; fetch a value "
                             "the loop returns (an Exit) instead")
    functionalize_loops(graph)
    functionalize_conds(graph)
    _check_done(graph)
    return replace(subgraph, nodes=graph.ordered(), library=library)


def _functionalize_function(fn, library) -> None:
    """Functionalize a FunctionDef's body in place. Its inputs ('node:out_arg:k') are
    rewritten to GraphDef syntax ('node:i', which function bodies also accept) first, so
    the graph surgery sees one syntax; the body's input args stay plain names. Nodes the
    results do not need are dropped first, as prune drops them from the graph."""
    op_of = {n.name: n.op for n in fn.node_def}

    def flat(text: str) -> str:
        if text.startswith("^"):
            return text
        producer, arg, k = parse_body_input(text)
        if producer not in op_of:
            return producer  # an input arg
        return f"{producer}:{k if arg is None else output_index(op_of[producer], arg, k)}"

    nodes = []
    for node in needed_nodes(fn):  # as prune does for the graph: dead nodes would dangle
        inputs = [flat(t) for t in node.input]
        del node.input[:]
        node.input.extend(inputs)
        nodes.append(node)
    _check_arity(nodes)
    graph = Graph(nodes, library)
    functionalize_loops(graph)
    functionalize_conds(graph)
    try:
        _check_done(graph)
    except GraphError as error:
        raise GraphError(f"{error} (in function '{fn.signature.name}')") from None
    for key, text in list(fn.ret.items()):
        fn.ret[key] = flat(text)
    del fn.node_def[:]
    fn.node_def.extend(graph.ordered())


def _check_done(graph: Graph) -> None:
    leftover = [n for n in graph.nodes.values() if n.op in V1_CONTROL_FLOW_OPS]
    if leftover:
        node = leftover[0]
        raise GraphError(f"node '{node.name}' ({node.op}) is TensorFlow 1 control flow that "
                         "is not part of a well-formed tf.while_loop or tf.cond; aotc cannot "
                         "turn it into a While or If")


def _check_arity(nodes) -> None:
    """Data inputs of the V1 ops as TensorFlow defines them (Merge takes two here: the
    two branches of a cond, or a loop's Enter and NextIteration)."""
    for node in nodes:
        if node.op not in V1_CONTROL_FLOW_OPS:
            continue
        want = 2 if node.op in SWITCH_OPS or node.op in MERGE_OPS else 1
        got = len(data_inputs(node))
        if got != want:
            raise GraphError(f"node '{node.name}' ({node.op}) has {got} data inputs; "
                             f"TensorFlow 1 control flow gives it {want}")
