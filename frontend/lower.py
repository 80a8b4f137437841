"""Lower a pruned TensorFlow subgraph to an HLO module.

The entry computation takes one parameter per feed, in Config order, then one per
variable (its value on entry), and returns a tuple of the fetched tensors in Config order
followed by the final values of the variables that are not readonly (a tuple even for a
single result, so every backend sees one result convention). See `ops/variables.py`.

Each node is lowered by the rule registered for its op type (see `ops/`), in topological
order, with the HLO instructions of its data inputs; control inputs carry no values and
are ignored (everything in a compiled function runs before it returns). Before anything
is lowered, every op type without a rule is collected and reported at once, and then
every node that does not match its op's signature (frontend/validate.py).
"""

from __future__ import annotations

import re

from ..hlo import Builder, Instruction, Module, Shape
from .errors import FrontendError, UnsupportedOpsError
from .functionalize import functionalize
from .functions import FunctionLibrary, function_ops_as_calls
from .ops import LOWERINGS, LoweringContext, variables
from .ops.registry import run_rule, to_hlo_dtype
from .prune import INPUTS_IGNORED, Subgraph, TensorRef, parse_input
from .validate import check_contracts

__all__ = ["lower", "VARIABLE_OPS"]

#: Ops whose output is a variable; the variable's value is an entry parameter.
VARIABLE_OPS = frozenset({"VarHandleOp", "VariableV2", "Variable", "VariableV1"})


def lower(subgraph: Subgraph, name: str = "main", frozen=None) -> Module:
    """The HLO module computing `subgraph`'s fetches from its feeds (and variables).

    `frozen` maps variable nodes to saved values compiled in as constants (the last,
    readonly Config variables; see frontend/saved_model.py)."""
    # TF1 graphs: Defun calls -> PartitionedCall, loops and conds -> While and If nodes.
    subgraph = functionalize(function_ops_as_calls(subgraph))
    functions = FunctionLibrary(subgraph.library)
    _check_supported(subgraph, functions)
    check_contracts(subgraph, functions)  # every node matches its op's signature
    b = Builder(name)
    ctx = LoweringContext(b)
    ctx.functions = functions  # for calls and control flow (ops/control_flow.py)
    values = ctx.node_outputs  # (node name, output index) -> Instruction

    hlo_name = _unique_names()
    for feed in subgraph.feeds:
        b.metadata = _metadata(subgraph, feed.tensor.node_name)
        t = to_hlo_dtype(feed.dtype, lambda msg: _fail(f"feed '{feed.label}': {msg}"))
        values[feed.tensor] = b.parameter(Shape(t, feed.shape), hlo_name(_feed_name(feed)))
    # Variables: parameters after the feeds; their nodes output a VariableState.
    var_states = variables.bind(ctx, subgraph, hlo_name, frozen)

    for node in variables.schedule(subgraph):  # subgraph.nodes, reads of variables early
        b.metadata = {"op_type": node.op, "op_name": node.name}
        inputs = [_input(ctx, subgraph, node, text) for text in node.input
                  if not text.startswith("^") and node.op not in INPUTS_IGNORED]
        inputs = variables.resolve_inputs(node, inputs)
        outputs = run_rule(ctx, node, inputs)
        for index, inst in enumerate(outputs):
            # A fed output keeps its parameter: consumers must read the argument.
            values.setdefault(TensorRef(node.name, index), inst)

    b.metadata = {}
    results = []
    for fetch in subgraph.fetches:
        if fetch.tensor not in values:
            raise FrontendError(f"fetch '{fetch.label}': node '{fetch.tensor.node_name}' has "
                                f"no output {fetch.tensor.output_index}")
        value = variables.as_value(values[fetch.tensor], f"fetch '{fetch.label}'")
        if not isinstance(value, Instruction):  # a TensorList or other non-tensor value
            _fail(f"fetch '{fetch.label}': node '{fetch.tensor.node_name}' outputs a "
                  f"{type(value).__name__}, not a tensor")
        results.append(_check_fetch(fetch, value))
    results += variables.final_values(var_states)
    return b.module(b.tuple(results))


def _check_supported(subgraph: Subgraph, functions: FunctionLibrary) -> None:
    missing: dict[str, list[str]] = {}
    for node in subgraph.nodes:
        if node.op not in LOWERINGS and node.op not in VARIABLE_OPS:
            missing.setdefault(node.op, []).append(node.name)
    # Ops in the bodies of functions the subgraph calls, listed as 'function/node'.
    for op, names in functions.check(subgraph.nodes, LOWERINGS.__contains__).items():
        missing.setdefault(op, []).extend(names)
    if missing:
        raise UnsupportedOpsError(missing)


def _input(ctx: LoweringContext, subgraph: Subgraph, node, text: str) -> Instruction:
    tensor, _ = parse_input(text)
    try:
        return ctx.node_outputs[tensor]
    except KeyError:
        producer = subgraph.node(tensor.node_name) if tensor.node_name in subgraph else None
        what = f"{producer.op} node" if producer is not None else "node"
        ctx.error(node, f"input '{text}' refers to output {tensor.output_index} of {what} "
                        f"'{tensor.node_name}', which does not exist")


def _check_fetch(fetch, inst: Instruction) -> Instruction:
    """Compare the Config's declared fetch type/shape (if any) with the lowered one."""
    shape = inst.shape
    if fetch.dtype is not None and shape.element_type.np_dtype != fetch.dtype:
        _fail(f"fetch '{fetch.label}' is declared {fetch.dtype} but the graph computes "
              f"{shape.element_type.np_dtype}")
    if fetch.shape is not None and len(fetch.shape) == shape.rank and any(
            want not in (-1, got) for want, got in zip(fetch.shape, shape.dims)):
        _fail(f"fetch '{fetch.label}' is declared with shape {list(fetch.shape)} but the "
              f"graph computes {list(shape.dims)}")
    return inst


def _metadata(subgraph: Subgraph, node_name: str) -> dict:
    op = subgraph.node(node_name).op if node_name in subgraph else "Placeholder"
    return {"op_type": op, "op_name": node_name}


def _feed_name(feed) -> str:
    if feed.name:
        return feed.name
    ref = feed.tensor
    return ref.node_name if ref.output_index == 0 else f"{ref.node_name}_{ref.output_index}"


def _unique_names():
    """A function giving each feed or variable label an HLO-friendly parameter name
    ('x:0' -> 'x_0'), distinct from those given before ('a/b' and 'a_b' -> 'a_b',
    'a_b_1') and from the 'opcode.N' names of other instructions."""
    used: set[str] = set()

    def hlo_name(label: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_.\-]", "_", label) or "arg"
        base = re.sub(r"\.(\d+)$", r"_\1", base)  # 'opcode.N' is how HLO names the rest
        name, k = base, 0
        while name in used:
            k += 1
            name = f"{base}_{k}"
        used.add(name)
        return name

    return hlo_name


def _fail(message: str):
    raise FrontendError(message)
