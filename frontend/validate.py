"""The one check site for op contracts: the pruned graph and every function body it
can reach, checked against the signature table before any lowering rule runs.

Input dtypes are followed along edges: a top-level input reads its feed's dtype or its
producer's output type (from the producer's signature and attrs); a function body input
reads the function's input arg type or the body producer's output type. Every problem
found, anywhere, is reported in one ContractError.
"""

from __future__ import annotations

import numpy as np

from .contracts import check_nodes, output_arg_index, output_types, raise_if_any
from .functions import FunctionLibrary, called_functions, needed_nodes, parse_body_input
from .graph import NUMPY_DTYPES
from .prune import Subgraph, parse_input

__all__ = ["check_contracts"]

#: NumPy dtype -> DataType (feeds carry NumPy dtypes).
_DATA_TYPES = {dtype: enum for enum, dtype in NUMPY_DTYPES.items()}


def check_contracts(subgraph: Subgraph, functions: FunctionLibrary) -> None:
    """Raise a ContractError listing every node (top level or in a reachable function
    body) that does not match its op's signature."""

    def top_level_type(node, text: str):
        ref, _ = parse_input(text)
        feed = subgraph.feed_for(ref)
        if feed is not None:
            return _DATA_TYPES.get(np.dtype(feed.dtype))
        if ref.node_name not in subgraph:
            return None
        return _nth(output_types(subgraph.node(ref.node_name)), ref.output_index)

    problems = check_nodes(subgraph.nodes, top_level_type)
    for fn in _reachable_functions(subgraph.nodes, functions):
        problems += [f"{p} (in function '{fn.signature.name}')"
                     for p in _body_problems(fn)]
    raise_if_any(problems)


def _nth(types, index: int):
    return types[index] if types is not None and 0 <= index < len(types) else None


def _body_problems(fn) -> list[str]:
    body = needed_nodes(fn)
    by_name = {n.name: n for n in body}
    args = {a.name: (a.type or None) for a in fn.signature.input_arg}

    def body_type(node, text: str):
        producer, arg, k = parse_body_input(text)
        if producer in args and arg is None:
            return args[producer]
        if producer not in by_name:
            return None
        node = by_name[producer]
        index = k if arg is None else output_arg_index(node, arg, k)
        return None if index is None else _nth(output_types(node), index)

    return check_nodes(body, body_type)


def _reachable_functions(nodes, functions: FunctionLibrary) -> list:
    """Every FunctionDef the nodes call, directly or through other functions, once each.
    (FunctionLibrary.check has already reported missing functions and recursion.)"""
    found, seen = [], set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        for attr, name in called_functions(node):
            if name in seen:
                continue
            seen.add(name)
            fn = functions.get(name, node, attr)
            found.append(fn)
            stack.extend(needed_nodes(fn))
    return found
