"""XLA HLO text in (as JAX, TensorFlow and XLA print it), a module to compile out.

    jax.jit(f).lower(x).as_text(dialect="hlo")
    tf.function(f, jit_compile=True).experimental_get_compiler_ir(x)(stage="hlo")

`load_hlo_module(path)` parses the text with `aotc.hlo.parse_module` and describes the
function it computes: the entry computation's parameters, in order, are the arguments,
and the root's tuple elements the results (a root that is not a tuple is the single
result; the module gets a tuple root either way, the convention every backend sees).

Before parsing, the text is scanned once for what XLA prints but aotc cannot compile, so
that everything is reported at once rather than one parse error at a time: opcodes aotc
does not have (each with the instructions using it), constants whose value was elided as
`{...}` (TensorFlow elides large constants when it prints HLO), and instructions sharded
over several devices. Attributes that do not change what is computed (metadata,
frontend_attributes, parameter_replication, single-device sharding, backend_config, ...)
are accepted: the parser skips or keeps them, and the importer drops the kept ones the
IR does not model.

Layouts say how values are stored, not what they are, so every shape is made row-major
(aotc's ABI, and the input of its own layout assignment): a parameter printed with layout
{0,1} still takes a row-major argument. The exception is `bitcast`, whose meaning depends
on its layouts (XLA inserts them after its layout assignment): one that is not a
reshape of row-major arrays is rejected; give aotc the module before optimization, as
JAX's `as_text()` and TensorFlow's stage="hlo" print it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np

from ..hlo import HloParseError, Instruction, Module, OPCODES, Shape, parse_module
from .errors import FrontendError
from .identifiers import is_c_identifier

__all__ = ["HloImportError", "HloFunction", "HloValue", "load_hlo_module", "parse_hlo_text"]

#: Attributes XLA prints whose value does not change the computed function.
_MEANINGLESS_ATTRS = ("parameter_replication", "sharding", "frontend_attributes",
                      "backend_config", "origin")

_INSTRUCTION = re.compile(r"^\s*(?:ROOT\s+)?%?(?P<name>[^\s=(){}]+)\s*=\s*(?P<rest>.*)$")
_ARRAY_SHAPE = re.compile(r"[a-z][a-z0-9]*\[[^\]]*\](?:\{[^{}]*\})?")
_OPCODE = re.compile(r"\s*(?P<opcode>[a-z][a-z0-9\-]*)\(")
_ELIDED = re.compile(r"constant\(\s*\{\s*\.\.\.\s*\}\s*\)")
_MLIR = re.compile(r"^\s*(module\s+@|func\.func\b)", re.MULTILINE)
_MULTI_DEVICE = re.compile(r"sharding=\{[^\n]*devices=\[")


class HloImportError(FrontendError):
    """HLO text that aotc cannot compile; the message names the instructions at fault."""


@dataclass(frozen=True)
class HloValue:
    """One argument or result: its accessor name ('' for none), what it is in the text
    (the parameter's name, or `root[i]`), NumPy dtype and dims."""

    name: str
    label: str
    dtype: np.dtype
    shape: tuple[int, ...]


@dataclass
class HloFunction:
    """A parsed entry computation as a function: the module (with a tuple root), its
    arguments (the parameters, in order) and results (the root tuple's elements)."""

    module: Module
    args: list[HloValue]
    results: list[HloValue]


def load_hlo_module(path: str | os.PathLike) -> HloFunction:
    """Read and parse the HLO text file at `path`."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise HloImportError(f"HLO file '{path}' does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise HloImportError(f"cannot read HLO text file '{path}': {e}") from None
    return parse_hlo_text(text, source=path)


def parse_hlo_text(text: str, source: str = "<hlo>") -> HloFunction:
    """Parse HLO text into an `HloFunction`; `source` names it in messages."""
    _check_text(text, source)
    try:
        module = parse_module(text)
    except HloParseError as e:
        raise HloImportError(f"'{source}' is not HLO text aotc can read: {e}") from None
    bitcasts = []
    for comp in module.computations:
        for inst in comp.instructions:
            for key in _MEANINGLESS_ATTRS:
                inst.attrs.pop(key, None)
            if inst.opcode == "bitcast" and not (_is_row_major(inst.shape)
                                                 and _is_row_major(inst.operands[0].shape)):
                bitcasts.append(inst.name)
    if bitcasts:
        raise HloImportError(f"'{source}': bitcast {', '.join(bitcasts)} depends on its "
                             "layouts (XLA adds such bitcasts when it assigns layouts); give "
                             "aotc the module before XLA optimizes it")
    for comp in module.computations:
        for inst in comp.instructions:
            inst.shape = _row_major(inst.shape)
    entry = module.entry
    args = [_argument(p, source) for p in entry.parameters]
    _name_arguments(args)
    root = entry.root
    elements = list(root.operands) if root.opcode == "tuple" else [root]
    if root.shape.is_tuple and root.opcode != "tuple":
        shapes = list(root.shape.tuple_shapes)
        elements = [_element(entry, root, i, s) for i, s in enumerate(shapes)]
    results = []
    for i, value in enumerate(elements):
        if value.shape.is_tuple:
            raise HloImportError(f"'{source}': result {i} of the entry computation "
                                 f"({value.name}) is a tuple; aotc compiles functions whose "
                                 "results are arrays (flatten the outputs)")
        results.append(HloValue("", f"root[{i}]", value.shape.element_type.np_dtype,
                                tuple(value.shape.dims)))
    if root.opcode != "tuple":
        entry.root = entry.add(Instruction("tuple", Shape.tuple([e.shape for e in elements]),
                                           elements, name="results"))
    return HloFunction(module, args, results)


def _check_text(text: str, source: str) -> None:
    """Report every opcode aotc lacks, elided constant and multi-device sharding at once."""
    if _MLIR.search(text):
        raise HloImportError(f"'{source}' is MLIR (StableHLO) text, not HLO text; print the "
                             "module as HLO, e.g. jax.jit(f).lower(x).as_text(dialect=\"hlo\")")
    unknown: dict[str, list[str]] = {}
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        match = _INSTRUCTION.match(line)
        if match is None or line.lstrip().startswith("HloModule"):
            continue
        name, rest = match["name"], match["rest"]
        opcode = _opcode(rest)
        if opcode is not None and opcode not in OPCODES:
            unknown.setdefault(opcode, []).append(name)
        if _ELIDED.search(rest):
            problems.append(f"line {number}: constant {name} has its value elided as {{...}}; "
                            "print the module with its large constants (XLA's "
                            "print_large_constants; from TensorFlow, pass the weights as "
                            "arguments or dump with --xla_dump_hlo_as_text)")
        if _MULTI_DEVICE.search(rest):
            problems.append(f"line {number}: {name} is sharded over several devices; aotc "
                            "compiles single-device modules")
    if unknown:
        count = len(unknown)
        lines = [f"'{source}' uses {count} opcode{'s' if count != 1 else ''} that aotc "
                 "cannot compile:"]
        for opcode, names in sorted(unknown.items()):
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5
                                             else "")
            lines.append(f"  {opcode}: {shown}")
        problems.insert(0, "\n".join(lines))
    if problems:
        raise HloImportError("\n".join(problems) if unknown else
                             f"'{source}': " + "\n".join(problems))


def _opcode(rest: str) -> str | None:
    """The opcode of an instruction line's right-hand side (after `name =`)."""
    pos = _skip_shape(rest)
    if pos is None:
        return None
    match = _OPCODE.match(rest, pos)
    return match["opcode"] if match else None


def _skip_shape(text: str) -> int | None:
    """The index just after the shape at the start of `text` (a tuple shape's parens may
    nest and hold comments such as /*index=5*/), or None if there is none."""
    text_start = len(text) - len(text.lstrip())
    if text.startswith("(", text_start):
        depth = 0
        for pos in range(text_start, len(text)):
            depth += {"(": 1, ")": -1}.get(text[pos], 0)
            if depth == 0:
                return pos + 1
        return None
    match = _ARRAY_SHAPE.match(text, text_start)
    return match.end() if match else None


def _argument(param: Instruction, source: str) -> HloValue:
    if param.shape.is_tuple:
        raise HloImportError(f"'{source}': entry parameter {param.attrs['parameter_number']} "
                             f"({param.name}) is a tuple; aotc compiles functions whose "
                             "arguments are arrays")
    return HloValue("", param.name, param.shape.element_type.np_dtype, tuple(param.shape.dims))


def _name_arguments(args: list[HloValue]) -> None:
    """Name each argument after its parameter without XLA's `.N` suffix (`x.1` -> `x`)
    where that is a C identifier used by no other argument; the rest stay unnamed."""
    stems = [re.sub(r"\.\d+$", "", a.label).replace("-", "_").replace(".", "_") for a in args]
    for i, stem in enumerate(stems):
        if is_c_identifier(stem) and stems.count(stem) == 1:
            args[i] = HloValue(stem, args[i].label, args[i].dtype, args[i].shape)


def _is_row_major(shape: Shape) -> bool:
    if shape.is_tuple:
        return all(_is_row_major(s) for s in shape.tuple_shapes)
    return shape.is_row_major


def _row_major(shape: Shape) -> Shape:
    if shape.is_tuple:
        return Shape.tuple([_row_major(s) for s in shape.tuple_shapes])
    return Shape(shape.element_type, shape.dims)


def _element(entry, root: Instruction, index: int, shape: Shape) -> Instruction:
    return entry.add(Instruction("get-tuple-element", shape, [root], {"index": index},
                                 name=f"result.{index}"))
