"""The HLO text printer: XLA's textual syntax for modules, computations and instructions.

    HloModule m, entry_computation_layout={(f32[2]{0})->f32[]}

    add_f32 {
      lhs = f32[] parameter(0)
      rhs = f32[] parameter(1)
      ROOT add.3 = f32[] add(lhs, rhs)
    }

    ENTRY main {
      x = f32[2]{0} parameter(0)
      c = f32[] constant(0)
      ROOT r = f32[] reduce(x, c), dimensions={0}, to_apply=add_f32
    }

`parse_module(print_module(m))` (parser.py) reads back what this module printed, and
printing that again reproduces the text. Names that are not valid identifiers are
sanitized (and kept unique) at printing time.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable

import numpy as np

from .dtypes import DType
from .ir import CALLED_COMPUTATION_ATTR, Computation, Instruction, Module
from .text_syntax import ATTR_DEFAULTS, CALLEE_ROLES, LIST_ROLES, OMITTED_WHEN_EMPTY
from .window import ConvDimensionNumbers, format_window

__all__ = ["print_module", "print_computation", "print_instruction"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*\Z")
# Words the parser reads as keywords at the start of a line; never printed as names.
_KEYWORDS = frozenset({"ROOT", "ENTRY", "HloModule"})


def _is_identifier(name: str) -> bool:
    return bool(_IDENTIFIER.match(name)) and name not in _KEYWORDS


def _sanitize(name: str) -> str:
    """A valid identifier resembling `name` (invalid characters become `_`)."""
    text = re.sub(r"[^A-Za-z0-9_.\-]", "_", name)
    if not text or not (text[0].isalpha() or text[0] == "_"):
        text = "_" + text
    if text in _KEYWORDS:
        text += "_"
    return text


class _Names:
    """Printing-time names: valid, unique names are kept; others get a sanitized new one.

    Deterministic, and the identity on text the parser produced, so printing is stable
    under a parse/print round trip.
    """

    def __init__(self, computations: Iterable[Computation]):
        comps = list(computations)
        self._comps = self._assign([(id(c), c.name) for c in comps])
        self._insts = self._assign([(id(i), i.name) for c in comps for i in c.instructions])

    @staticmethod
    def _assign(items: list[tuple[int, str]]) -> dict[int, str]:
        # Names that some item keeps as is; a generated name must not steal one of them.
        kept = {name for _, name in items if _is_identifier(name)}
        taken: set[str] = set()
        chosen: dict[int, str] = {}
        for key, name in items:
            if key in chosen:
                continue
            if _is_identifier(name) and name not in taken:
                new = name
            else:
                base, n = _sanitize(name), 1
                new = base
                while new in taken or new in kept:
                    new, n = f"{base}.{n}", n + 1
            taken.add(new)
            chosen[key] = new
        return chosen

    def instruction(self, inst: Instruction) -> str:
        return self._insts.get(id(inst)) or _sanitize(inst.name)

    def computation(self, comp: Computation) -> str:
        return self._comps.get(id(comp)) or _sanitize(comp.name)


def _reachable(comp: Computation) -> list[Computation]:
    """`comp` and every computation it calls, callees first."""
    return Module(comp.name, comp).computations


# =========================================================================================
# Printing
# =========================================================================================

def _format_scalar(value, element_type: DType) -> str:
    if element_type.is_complex:  # XLA writes a complex value as (real, imag)
        part = element_type.component
        return f"({_format_scalar(value.real, part)}, {_format_scalar(value.imag, part)})"
    if element_type.is_pred:
        return "true" if value else "false"
    if element_type.is_float:
        # NumPy prints the shortest decimal that reads back to the same value of this
        # width; XLA drops the ".0" of whole numbers.
        text = str(value)
        return text[:-2] if text.endswith(".0") else text
    return str(int(value))


def _format_literal(literal: np.ndarray, element_type: DType) -> str:
    """XLA literal text: a bare scalar, `{1, 2}`, `{ {1, 2}, {3, 4} }`, `{}` when empty."""
    array = np.asarray(literal)
    if array.ndim == 0:
        return _format_scalar(array[()], element_type)

    def nested(sub: np.ndarray) -> str:
        if sub.ndim == 1:
            return "{" + ", ".join(_format_scalar(v, element_type) for v in sub) + "}"
        if sub.shape[0] == 0:
            return "{}"
        return "{ " + ", ".join(nested(s) for s in sub) + " }"

    return nested(array)


def _format_ints(values) -> str:
    return "{" + ",".join(str(int(v)) for v in values) + "}"


def _format_slice(spec) -> str:
    parts = []
    for start, limit, stride in spec:
        parts.append(f"[{start}:{limit}]" if stride == 1 else f"[{start}:{limit}:{stride}]")
    return "{" + ", ".join(parts) + "}"


def _format_padding(spec) -> str:
    if not spec:
        return "{}"  # XLA prints nothing for rank 0; braces keep the text parseable
    dims = []
    for low, high, interior in spec:
        dims.append(f"{low}_{high}" if interior == 0 else f"{low}_{high}_{interior}")
    return "x".join(dims)


def _escape(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES_OUT:
            out.append(_ESCAPES_OUT[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


_ESCAPES_OUT = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _format_generic(value) -> str:
    """Text of an attribute this module has no dedicated syntax for."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, DType):
        return value.name
    if isinstance(value, str):
        return value if _is_identifier(value) else _escape(value)
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (tuple, list)):
        return "{" + ",".join(_format_generic(v) for v in value) + "}"
    return _escape(str(value))


def _format_metadata(metadata: dict) -> str:
    parts = []
    for key, value in metadata.items():
        shown = str(int(value)) if isinstance(value, (int, np.integer)) and not isinstance(
            value, bool) else _escape(str(value))
        parts.append(f"{key}={shown}")
    return "{" + " ".join(parts) + "}"


#: Attribute name -> its text form, in the order attributes are printed.
_ATTR_FORMATS: dict[str, Callable] = {
    "iota_dimension": str,
    "index": str,
    "slice": _format_slice,
    "padding": _format_padding,
    "dimensions": _format_ints,
    "lhs_batch_dims": _format_ints,
    "lhs_contracting_dims": _format_ints,
    "rhs_batch_dims": _format_ints,
    "rhs_contracting_dims": _format_ints,
    "direction": str,
    "kind": str,
    "window": format_window,
    "dim_labels": ConvDimensionNumbers.labels,
    "feature_group_count": str,
    "batch_group_count": str,
    "offset_dims": _format_ints,
    "collapsed_slice_dims": _format_ints,
    "start_index_map": _format_ints,
    "update_window_dims": _format_ints,
    "inserted_window_dims": _format_ints,
    "scatter_dims_to_operand_dims": _format_ints,
    "index_vector_dim": str,
    "slice_sizes": _format_ints,
    "dynamic_slice_sizes": _format_ints,
    "fft_type": str,
    "fft_length": _format_ints,
    "is_stable": _format_generic,
    "indices_are_sorted": _format_generic,
    "unique_indices": _format_generic,
}

#: Attributes printed inside the parentheses rather than as `name=value`.
_OPERAND_ATTRS = {"parameter": "parameter_number", "constant": "literal"}

def _format_operands(inst: Instruction, names: _Names) -> str:
    if inst.opcode == "parameter":
        return str(inst.attrs.get("parameter_number"))
    if inst.opcode == "constant":
        return _format_literal(inst.attrs["literal"], inst.shape.element_type)
    return ", ".join(names.instruction(op) for op in inst.operands)


def _callee_spelling(inst: Instruction) -> tuple[str, ...]:
    """The roles `inst` prints its callees under: XLA writes a pred conditional's branches
    as true/false computations and an indexed one's as a list."""
    spellings = CALLEE_ROLES[inst.opcode]
    if inst.opcode == "conditional":
        selector = inst.operands[0].shape if inst.operands else None
        is_pred = selector is not None and not selector.is_tuple and selector.element_type.is_pred
        return spellings[0] if is_pred and len(inst.called_computations) == 2 else spellings[1]
    return spellings[0]


def _format_callees(inst: Instruction, names: _Names) -> list[str]:
    comps = [names.computation(c) for c in inst.called_computations]
    if inst.opcode not in CALLEE_ROLES:
        attr = CALLED_COMPUTATION_ATTR.get(inst.opcode, "calls")
        return [f"{attr}={c}" for c in comps]
    roles = _callee_spelling(inst)
    if roles[0] in LIST_ROLES:
        return [f"{roles[0]}={{{', '.join(comps)}}}"]
    return [f"{role}={c}" for role, c in zip(roles, comps)]


def _format_attrs(inst: Instruction, names: _Names) -> list[str]:
    attrs = dict(inst.attrs)
    attrs.pop(_OPERAND_ATTRS.get(inst.opcode), None)
    defaults = ATTR_DEFAULTS.get(inst.opcode, {})
    parts = []
    for key, fmt in _ATTR_FORMATS.items():
        if key in attrs:
            value = attrs.pop(key)
            if key in defaults and value == defaults[key]:
                continue
            if not (key in OMITTED_WHEN_EMPTY and len(value) == 0):
                parts.append(f"{key}={fmt(value)}")
    parts.extend(_format_callees(inst, names))
    for key in sorted(attrs):
        parts.append(f"{key}={_format_generic(attrs[key])}")
    if inst.metadata:
        parts.append(f"metadata={_format_metadata(inst.metadata)}")
    return parts


def _instruction_line(inst: Instruction, names: _Names, is_root: bool) -> str:
    head = f"{'ROOT ' if is_root else ''}{names.instruction(inst)} = {inst.shape} "
    text = f"{head}{inst.opcode}({_format_operands(inst, names)})"
    attrs = _format_attrs(inst, names)
    return ", ".join([text, *attrs])


def _computation_text(comp: Computation, names: _Names, is_entry: bool) -> str:
    lines = [f"{'ENTRY ' if is_entry else ''}{names.computation(comp)} {{"]
    for inst in comp.instructions:
        lines.append("  " + _instruction_line(inst, names, inst is comp.root))
    lines.append("}")
    return "\n".join(lines)


def print_instruction(inst: Instruction) -> str:
    """One instruction in HLO text, e.g. `add.3 = f32[2]{0} add(x, y)` (no ROOT marker)."""
    return _instruction_line(inst, _Names(inst.called_computations), False)


def print_computation(comp: Computation) -> str:
    """One computation in HLO text (without its callees), as `name { ... }`."""
    return _computation_text(comp, _Names(_reachable(comp)), False)


def _entry_layout(entry: Computation) -> str:
    params = ", ".join(str(p.shape) for p in entry.parameters)
    return f"{{({params})->{entry.root.shape}}}"


def print_module(module: Module) -> str:
    """The module in HLO text: header, callees first, the entry last marked `ENTRY`."""
    comps = module.computations
    names = _Names(comps)
    module_name = module.name if _is_identifier(module.name) else _sanitize(module.name)
    header = f"HloModule {module_name}"
    if module.entry.root is not None:
        header += f", entry_computation_layout={_entry_layout(module.entry)}"
    blocks = [header]
    for comp in comps:
        blocks.append(_computation_text(comp, names, comp is module.entry))
    return "\n\n".join(blocks) + "\n"
