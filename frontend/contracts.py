"""Op contracts: every node checked against its op's signature before any rule runs.

A lowering rule may trust what it is given: the right number of inputs, every attr it
reads present (or defaulted) and of the right kind, allowed values respected and input
dtypes agreeing with the type attrs. `check_nodes` makes sure of that, the way
TensorFlow's graph importer validates a NodeDef against its OpDef, and reports every
problem in the graph (top level and reachable function bodies) at once.

The signatures come from TensorFlow's OpDefs, generated into `op_signatures.json` by
`tools/gen_op_signatures.py` and committed, so the compiler needs no TensorFlow. An op
with no signature in the table (none today) is not checked.

A signature is a dict: `inputs`/`outputs` are lists of args (`type` a fixed DataType
name, or `type_attr`; optionally `number_attr` for N tensors of that type, or
`type_list_attr` for one tensor per listed type); `attrs` are dicts with `name`, `type`
("int", "list(type)", ...) and optionally `default`, `allowed` and `minimum`.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Callable, Iterable

from .errors import FrontendError
from .graph import dtype_name
from .proto import aotc_types_pb2

__all__ = ["ContractError", "signature", "check_nodes", "node_problems", "output_types",
           "output_arg_index", "type_label"]

_TABLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "op_signatures.json")

#: The most tensors a list arg may hold (a count attr above it is an error, not a
#: list of a trillion entries).
MAX_COUNT = 1 << 16

#: How many problems the error lists before summarizing the rest.
MAX_LISTED = 25


class ContractError(FrontendError):
    """Nodes that do not match their op's signature; every problem, one per line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        if len(problems) == 1:
            text = problems[0]
        else:
            shown = problems[:MAX_LISTED]
            more = len(problems) - len(shown)
            text = f"{len(problems)} nodes do not match their op's signature:\n" + "\n".join(
                f"  {p}" for p in shown) + (f"\n  ... and {more} more" if more > 0 else "")
        super().__init__(text)


@functools.lru_cache(maxsize=1)
def _signatures() -> dict[str, dict]:
    with open(_TABLE, encoding="utf-8") as f:
        return json.load(f)


def signature(op: str) -> dict | None:
    """The signature of TF op type `op`, or None if the table has none."""
    return _signatures().get(op)


# ---------------------------------------------------------------------------------------
# Attr kinds

#: OpDef attr type -> the AttrValue oneof case holding it.
_CASES = {"string": "s", "int": "i", "float": "f", "bool": "b", "type": "type",
          "shape": "shape", "tensor": "tensor", "func": "func"}

#: AttrValue oneof case -> how a message names a value of that kind.
_KIND_NAMES = {"s": "a string", "i": "an int", "f": "a float", "b": "a bool",
               "type": "a type", "shape": "a shape", "tensor": "a tensor",
               "func": "a function", "list": "a list", "placeholder": "a placeholder",
               None: "empty"}

_PLURAL = {"s": "strings", "i": "ints", "f": "floats", "b": "bools", "type": "types",
           "shape": "shapes", "tensor": "tensors", "func": "functions"}

_LIST_FIELDS = ("s", "i", "f", "b", "type", "shape", "tensor", "func")


_DATA_TYPE_VALUES = frozenset(aotc_types_pb2.DataType.values())


def type_label(dtype: int) -> str:
    """'DT_FLOAT' -> 'float', as TensorFlow's messages name types."""
    return dtype_name(dtype).removeprefix("DT_").lower()


def _dtype(name: str) -> int:
    return aotc_types_pb2.DataType.Value(name)


def _base(dtype: int) -> int:
    return dtype - 100 if dtype > 100 else dtype  # DT_X_REF == DT_X + 100


def _list_case(values) -> str | None:
    for field in _LIST_FIELDS:
        if len(getattr(values, field)):
            return field
    return None


def _attr_problems(where: str, spec: dict, value) -> list[str]:
    """What is wrong with AttrValue `value` for attr `spec` (empty if nothing)."""
    kind = spec["type"]
    name = f"attr '{spec['name']}' of {where}"
    case = value.WhichOneof("value")
    if case == "placeholder" or kind == "any":
        return []  # a function attr's placeholder: bound when the function is called
    if kind.startswith("list("):
        element = _CASES[kind[5:-1]]
        if case != "list":
            return [f"{name} must be a list of {_PLURAL[element]}, got {_KIND_NAMES[case]}"]
        got = _list_case(value.list)
        if got not in (None, element):
            return [f"{name} must be a list of {_PLURAL[element]}, got a list of {_PLURAL[got]}"]
        items = list(getattr(value.list, element))
        problems = []
        if "minimum" in spec and len(items) < spec["minimum"]:
            problems.append(f"{name} must have at least {spec['minimum']} elements, got "
                            f"{len(items)}")
        if element == "type":
            allowed = spec.get("allowed")
            for item in items:
                problems += _type_allowed(name, item, allowed)
        return problems
    want = _CASES[kind]
    if case != want:
        return [f"{name} must be {_KIND_NAMES[want]}, got {_KIND_NAMES[case]}"]
    item = getattr(value, case)
    if kind == "int" and "minimum" in spec and item < spec["minimum"]:
        return [f"{name} must be at least {spec['minimum']}, got {item}"]
    if kind == "type":
        return _type_allowed(name, item, spec.get("allowed"))
    if kind == "string" and "allowed" in spec:
        text = item.decode("utf-8", "replace")
        if text not in spec["allowed"]:
            options = ", ".join(repr(a) for a in spec["allowed"])
            return [f"{name} must be one of {options}, got {text!r}"]
    return []


def _type_allowed(name: str, dtype: int, allowed: list[str] | None) -> list[str]:
    if dtype not in _DATA_TYPE_VALUES:
        return [f"{name} is not a data type ({dtype})"]
    if allowed is not None and dtype_name(_base(dtype)) not in allowed:
        options = ", ".join(n.removeprefix("DT_").lower() for n in allowed)
        return [f"{name} must be one of {options}, got {type_label(dtype)}"]
    return []


# ---------------------------------------------------------------------------------------
# Args


def _attr_int(node, name: str, spec: dict) -> int | None:
    if name in node.attr and node.attr[name].WhichOneof("value") == "i":
        return int(node.attr[name].i)
    default = _attr_spec(spec, name).get("default")
    return default if isinstance(default, int) and name not in node.attr else None


def _attr_types(node, name: str) -> list[int] | None:
    if name in node.attr and node.attr[name].WhichOneof("value") == "list":
        return list(node.attr[name].list.type)
    return None


def _attr_type(node, name: str, spec: dict) -> int | None:
    if name in node.attr:
        value = node.attr[name]
        return value.type if value.WhichOneof("value") == "type" else None
    default = _attr_spec(spec, name).get("default")
    return _dtype(default) if isinstance(default, str) else None


def _attr_spec(spec: dict, name: str) -> dict:
    return next((a for a in spec["attrs"] if a["name"] == name), {})


def _arg_types(node, spec: dict, arg: dict) -> list[int | None] | None:
    """The dtypes of the tensors `arg` stands for (None where unknown), or None if even
    their number is unknown (a bad count attr, reported elsewhere)."""
    if "type_list_attr" in arg:
        return _attr_types(node, arg["type_list_attr"])
    dtype = _dtype(arg["type"]) if "type" in arg else _attr_type(node, arg["type_attr"], spec)
    if "number_attr" in arg:
        count = _attr_int(node, arg["number_attr"], spec)
        return None if count is None or not 0 <= count <= MAX_COUNT else [dtype] * count
    return [dtype]


def output_types(node) -> list[int | None] | None:
    """The DataType of each output of `node` (None where its attrs do not say), or None
    when the op has no signature or its output count is unknown."""
    spec = signature(node.op)
    if spec is None:
        return None
    types: list[int | None] = []
    for arg in spec["outputs"]:
        part = _arg_types(node, spec, arg)
        if part is None:
            return None
        types += part
    return types


def output_arg_index(node, arg_name: str, k: int) -> int | None:
    """The flat output index of element `k` of output arg `arg_name` of `node` (function
    bodies name outputs this way), or None if the signature does not say. With one output
    arg the name is not needed (hand-written bodies use any), so `k` is the index."""
    spec = signature(node.op)
    if spec is None:
        return None
    if len(spec["outputs"]) == 1:
        return k
    index = 0
    for arg in spec["outputs"]:
        types = _arg_types(node, spec, arg)
        if arg["name"] == arg_name:
            return index + k
        if types is None:
            return None
        index += len(types)
    return None


def _input_bound_attrs(spec: dict) -> set[str]:
    """Attrs the inputs determine (their types and counts). TensorFlow's graph builders
    always write them, but hand-written graphs may leave them out, as the rules allow."""
    names = set()
    for arg in spec["inputs"]:
        names.update(arg[k] for k in ("type_attr", "type_list_attr", "number_attr") if k in arg)
    return names


def _count_attrs(spec: dict) -> set[str]:
    """Attrs giving the number of tensors of an input or output arg."""
    return {arg["number_attr"] for arg in spec["inputs"] + spec["outputs"]
            if "number_attr" in arg}


def _describe_inputs(spec: dict, node) -> tuple[int | None, str]:
    """The number of data inputs the node's signature asks for, and how to say it."""
    total, parts = 0, []
    for arg in spec["inputs"]:
        types = _arg_types(node, spec, arg)
        if types is None:
            return None, ""
        total += len(types)
        if "number_attr" in arg or "type_list_attr" in arg:
            parts.append(f"{len(types)} for '{arg['name']}'")
    plural = "input" if total == 1 else "inputs"
    detail = f" ({', '.join(parts)})" if parts and len(spec["inputs"]) > 1 else ""
    return total, f"{total} {plural}{detail}"


# ---------------------------------------------------------------------------------------
# One node


def node_problems(node, input_types: list[int | None] | None = None) -> list[str]:
    """Every way `node` breaks its op's signature.

    `input_types` gives the DataType of each data input where it is known (None entries
    are unknown); the count is checked against the node's non-control inputs.
    """
    spec = signature(node.op)
    if spec is None:
        return []
    where = f"node '{node.name}' ({node.op})"
    problems = []
    inferable = _input_bound_attrs(spec)
    for attr in spec["attrs"]:
        if attr["name"] in node.attr:
            problems += _attr_problems(where, attr, node.attr[attr["name"]])
        elif "default" not in attr and attr["name"] not in inferable:
            problems.append(f"{where} has no attr '{attr['name']}' (a {attr['type']})")
    for name in _count_attrs(spec):
        count = _attr_int(node, name, spec)
        if count is not None and count > MAX_COUNT:
            problems.append(f"attr '{name}' of {where} is {count}, more tensors than aotc "
                            f"supports ({MAX_COUNT})")
    if problems:
        return problems  # counts and types below read the attrs
    data_inputs = [t for t in node.input if not t.startswith("^")]
    expected, said = _describe_inputs(spec, node)
    if expected is not None and expected != len(data_inputs):
        return [f"{where} takes {said}, got {len(data_inputs)}"]
    if input_types is not None and expected is not None:
        problems += _dtype_problems(where, spec, node, input_types)
    return problems


def _dtype_problems(where: str, spec: dict, node, input_types: list) -> list[str]:
    problems, position = [], 0
    for arg in spec["inputs"]:
        want = _arg_types(node, spec, arg) or []
        source = (f"attr '{arg['type_attr']}'" if "type_attr" in arg else
                  f"attr '{arg['type_list_attr']}'" if "type_list_attr" in arg else None)
        for k, expected in enumerate(want):
            got = input_types[position] if position < len(input_types) else None
            position += 1
            if expected is None or got is None or _base(got) == _base(expected):
                continue
            if expected == aotc_types_pb2.DT_RESOURCE or got == aotc_types_pb2.DT_RESOURCE:
                continue  # variables: checked by the variable rules, which know the Config
            label = arg["name"] if len(want) == 1 else f"{arg['name']}[{k}]"
            said = f" ({source} says {type_label(expected)})" if source else ""
            problems.append(f"{where}: input {position - 1} ('{label}') must be "
                            f"{type_label(expected)}{said}, got {type_label(got)}")
    return problems


# ---------------------------------------------------------------------------------------
# A graph


def check_nodes(nodes: Iterable, input_type: Callable[[object, str], int | None],
                problems: list[str] | None = None) -> list[str]:
    """Append the problems of every node in `nodes` to `problems` (a new list by default).

    `input_type(node, input_text)` is the DataType flowing along a data input, or None
    where it is not known.
    """
    problems = [] if problems is None else problems
    for node in nodes:
        types = [input_type(node, text) for text in node.input if not text.startswith("^")]
        problems += node_problems(node, types)
    return problems


def raise_if_any(problems: list[str]) -> None:
    """Raise a ContractError listing `problems`, if there are any."""
    if problems:
        raise ContractError(problems)
