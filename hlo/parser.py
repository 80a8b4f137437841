"""The HLO text parser: `parse_module` reads what printer.py prints, and ordinary
hand-written XLA text of the same op set: `%` name prefixes, operands with shapes in front,
optional layouts, computation signatures, comments, attributes in any order, and XLA
attributes this IR does not model (sharding, backend_config, ...), which are skipped. Every
parsed instruction's shape is checked against shape inference.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .dtypes import DTYPES, DType
from .ir import Computation, Instruction, Module
from .lexer import HloParseError, Token, fast_literal, tokenize, unescape
from .opcodes import OPCODES
from .shape import Shape
from .shape_rules import ShapeError
from .text_syntax import ATTR_DEFAULTS, CALLEE_ROLES, LIST_ROLES, OMITTED_WHEN_EMPTY, ROLE_NAMES
from .verifier import expected_shape
from .window import ConvDimensionNumbers, parse_window_fields

__all__ = ["HloParseError", "parse_module"]

@dataclass
class _InstSyntax:
    """One parsed instruction line, before names are resolved."""

    name: str
    token: Token  # the name, for error positions
    shape: Shape
    opcode: str
    operands: list[Token] = field(default_factory=list)
    attrs: dict = field(default_factory=dict)
    callees: list[Token] = field(default_factory=list)
    callee_roles: dict = field(default_factory=dict)  # role attribute -> [computation name]
    metadata: dict = field(default_factory=dict)
    is_root: bool = False


@dataclass
class _CompSyntax:
    name: str
    token: Token
    is_entry: bool
    instructions: list[_InstSyntax] = field(default_factory=list)


#: Attributes XLA text may carry that this IR does not model; their values are skipped.
_IGNORED_ATTRS = frozenset({
    "sharding", "backend_config", "frontend_attributes", "operand_precision",
    "precision_config", "statistics_viz", "statistics", "algorithm", "type",
    "control-predecessors",
    "origin", "result_accuracy", "channel_id", "outer_dimension_partitions",
})

#: Attributes an opcode cannot do without.
_REQUIRED_ATTRS = {
    "iota": ("iota_dimension",), "broadcast": ("dimensions",), "transpose": ("dimensions",),
    "reverse": ("dimensions",), "slice": ("slice",), "pad": ("padding",),
    "concatenate": ("dimensions",), "reduce": ("dimensions",), "compare": ("direction",),
    "get-tuple-element": ("index",), "fusion": ("kind",),
    "convolution": ("window", "dim_labels"), "reduce-window": ("window",),
    "gather": ("offset_dims", "collapsed_slice_dims", "start_index_map", "index_vector_dim",
               "slice_sizes"),
    "scatter": ("update_window_dims", "inserted_window_dims", "scatter_dims_to_operand_dims",
                "index_vector_dim"),
    "dynamic-slice": ("dynamic_slice_sizes",), "sort": ("dimensions",),
}

_PADDING_DIM = re.compile(r"(-?[0-9]+)_(-?[0-9]+)(?:_([0-9]+))?\Z")


class _Parser:
    """Recursive descent over the token list; one method per grammar rule."""

    def __init__(self, text: str):
        self.text = text
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.tokens = tokenize(text, self.where)
        self.i = 0

    # -- token access ----------------------------------------------------------------

    def where(self, pos: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._line_starts, pos)
        return line, pos - self._line_starts[line - 1] + 1

    def error(self, token: Token, message: str) -> HloParseError:
        line, col = self.where(token.pos)
        lines = self.text.splitlines()
        source = lines[line - 1] if line - 1 < len(lines) else ""
        return HloParseError(message, line, col, source)

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.peek()
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    def accept(self, kind: str, text: str | None = None) -> Token | None:
        token = self.peek()
        if token.kind == kind and (text is None or token.text == text):
            return self.next()
        return None

    def expect(self, kind: str, what: str, text: str | None = None) -> Token:
        token = self.accept(kind, text)
        if token is None:
            raise self.error(self.peek(), f"expected {what}, found {self.peek().text!r}")
        return token

    # -- values ------------------------------------------------------------------------

    def integer(self, what: str = "an integer") -> int:
        token = self.expect("number", what)
        try:
            return int(token.text)
        except ValueError:
            raise self.error(token, f"expected {what}, found {token.text!r}") from None

    def int_list(self) -> tuple[int, ...]:
        self.expect("{", "'{'")
        values = []
        while not self.accept("}"):
            if values:
                self.expect(",", "',' or '}'")
            values.append(self.integer())
        return tuple(values)

    def skip_value(self) -> None:
        """Skip one attribute value: a token or a balanced bracketed group."""
        closers = {"{": "}", "(": ")", "[": "]"}
        token = self.next()
        if token.kind not in closers:
            return
        stack = [closers[token.kind]]
        while stack:
            token = self.next()
            if token.kind == "eof":
                raise self.error(token, f"expected {stack[-1]!r}")
            if token.kind in closers:
                stack.append(closers[token.kind])
            elif token.kind == stack[-1]:
                stack.pop()

    # -- shapes ------------------------------------------------------------------------

    def at_shape(self) -> bool:
        token = self.peek()
        return token.kind == "(" or (
            token.kind == "ident" and token.text in DTYPES and self.peek(1).kind == "[")

    def shape(self) -> Shape:
        if self.accept("("):
            elements = []
            while not self.accept(")"):
                if elements:
                    self.expect(",", "',' or ')' in a tuple shape")
                elements.append(self.shape())
            return Shape.tuple(elements)
        token = self.expect("ident", "a shape such as f32[2,3]")
        if token.text not in DTYPES:
            raise self.error(token, f"expected an element type, found {token.text!r}")
        self.expect("[", "'['")
        dims = []
        while not self.accept("]"):
            if dims:
                self.expect(",", "',' or ']'")
            dims.append(self.integer("a dimension size"))
        layout = None
        # A layout brace holds numbers (or nothing); a computation body never does.
        if self.peek().kind == "{" and self.peek(1).kind in ("number", "}"):
            start = self.peek()
            layout = self.int_list()
            if not dims and not layout:
                layout = None
            elif sorted(layout) != list(range(len(dims))):
                raise self.error(start, f"layout {{{','.join(map(str, layout))}}} is not a "
                                        f"permutation of the {len(dims)} dimensions")
        return Shape(DTYPES[token.text], tuple(dims), layout)

    # -- literals ----------------------------------------------------------------------

    def scalar(self, element_type: DType):
        if element_type.is_complex:  # (real, imag)
            self.expect("(", f"'(' opening a {element_type} value")
            re = self.scalar(element_type.component)
            self.expect(",", "',' between the real and imaginary parts")
            im = self.scalar(element_type.component)
            self.expect(")", f"')' closing a {element_type} value")
            return complex(re, im)
        token = self.next()
        text = token.text
        if token.kind not in ("number", "ident"):
            raise self.error(token, f"expected a {element_type} value, found {text!r}")
        try:
            if element_type.is_pred:
                return {"true": True, "false": False, "1": True, "0": False}[text]
            if element_type.is_float:
                return float(text)
            return int(text)
        except (KeyError, ValueError):
            raise self.error(token, f"expected a {element_type} value, found {text!r}") from None

    def literal(self, shape: Shape) -> np.ndarray:
        if shape.is_tuple:
            raise self.error(self.peek(), "tuple-shaped constants are not supported")
        t = shape.element_type
        np_type = np.float32 if t.numpy is None else t.np_dtype  # bf16 kept as float32
        if self.peek().kind == "literal":
            token = self.next()
            array = fast_literal(token.text, shape.dims, t, np_type)
            if array is not None:
                return array
            # Malformed: parse it again token by token, which says what is wrong where.
            sub = _Parser.__new__(_Parser)
            sub.__dict__.update(self.__dict__)
            sub.tokens = tokenize(self.text, self.where, token.pos, token.pos + len(token.text),
                                   literal_spans=False)
            sub.i = 0
            array = sub.general_literal(shape, np_type)
            sub.expect("eof", "the end of the literal")
            return array
        return self.general_literal(shape, np_type)

    def general_literal(self, shape: Shape, np_type) -> np.ndarray:
        # Old XLA text repeats the shape: constant(f32[2] {1, 2}); a complex scalar's "("
        # is its value, not a tuple shape.
        complex_scalar = shape.element_type.is_complex and self.peek().kind == "("
        if not complex_scalar and self.at_shape():
            self.shape()
        values: list = []
        self.nested_literal(shape.dims, 0, shape.element_type, values)
        token = self.peek()
        try:
            with np.errstate(over="ignore"):
                return np.array(values, dtype=np_type).reshape(shape.dims)
        except OverflowError:
            raise self.error(token, f"constant value out of range for {shape.element_type}") \
                from None

    def nested_literal(self, dims, depth: int, t: DType, out: list) -> None:
        if depth == len(dims):
            out.append(self.scalar(t))
            return
        open_token = self.expect("{", f"'{{' opening dimension {depth} of the literal")
        count = 0
        while not self.accept("}"):
            if count:
                self.expect(",", "',' or '}' in the literal")
            self.nested_literal(dims, depth + 1, t, out)
            count += 1
        if count != dims[depth]:
            raise self.error(open_token, f"literal has {count} elements in dimension {depth}, "
                                         f"the shape says {dims[depth]}")

    # -- attributes --------------------------------------------------------------------

    def attribute(self, inst: _InstSyntax) -> None:
        key_token = self.expect("ident", "an attribute name")
        key = key_token.text
        self.expect("=", f"'=' after {key}")
        parse = _ATTR_PARSERS.get(key)
        if key in ("to_apply", "calls"):
            inst.callees.append(self.expect("ident", "a computation name"))
        elif key in ROLE_NAMES:
            inst.callee_roles[key] = self.computation_names(key)
        elif key == "metadata":
            inst.metadata = self.metadata()
        elif key in _IGNORED_ATTRS:
            self.skip_value()
        elif parse is not None:
            inst.attrs[key] = parse(self)
        else:
            inst.attrs[key] = self.generic_value()

    def computation_names(self, role: str) -> list[Token]:
        """The value of a callee role: one name, or a braced list for a list role."""
        if role not in LIST_ROLES:
            return [self.expect("ident", f"a computation name after {role}=")]
        self.expect("{", f"'{{' opening the {role} list")
        names = []
        while not self.accept("}"):
            if names:
                self.expect(",", "',' or '}'")
            names.append(self.expect("ident", "a computation name"))
        return names

    def role_callees(self, inst: _InstSyntax, opcode_token: Token) -> list[Token]:
        """The callees given by role attributes, in called-computation order."""
        given = set(inst.callee_roles)
        for roles in CALLEE_ROLES.get(inst.opcode, ()):
            if given == set(roles):
                return [t for role in roles for t in inst.callee_roles[role]]
        accepted = " or ".join("+".join(f"{r}=" for r in roles)
                               for roles in CALLEE_ROLES.get(inst.opcode, ()))
        raise self.error(opcode_token, f"{inst.opcode} {inst.name} has computations "
                                       f"{', '.join(sorted(given))}; expected "
                                       f"{accepted or 'none of these'}")

    def slice_spec(self):
        self.expect("{", "'{'")
        spec = []
        while not self.accept("}"):
            if spec:
                self.expect(",", "',' or '}'")
            self.expect("[", "'[' starting a slice range")
            start = self.integer()
            self.expect(":", "':'")
            limit = self.integer()
            stride = self.integer() if self.accept(":") else 1
            self.expect("]", "']' closing a slice range")
            spec.append((start, limit, stride))
        return tuple(spec)

    def padding_spec(self):
        if self.peek().kind == "{":
            self.expect("{", "'{'")
            self.expect("}", "'}' (only rank-0 padding is written as braces)")
            return ()
        token = self.expect("number", "padding such as 0_1x1_0")
        spec = []
        for part in token.text.split("x"):
            match = _PADDING_DIM.match(part)
            if not match:
                raise self.error(token, f"expected padding low_high[_interior] per dimension "
                                        f"joined by 'x', found {token.text!r}")
            spec.append(tuple(int(g or 0) for g in match.groups()))
        return tuple(spec)

    def word(self):
        return self.expect("ident", "a name").text

    def metadata(self) -> dict:
        self.expect("{", "'{'")
        result = {}
        while not self.accept("}"):
            self.accept(",")
            if self.peek().kind == "}":
                continue
            key = self.expect("ident", "a metadata field name").text
            self.expect("=", "'='")
            token = self.next()
            if token.kind == "string":
                result[key] = unescape(token.text)
            elif token.kind == "number":
                result[key] = int(token.text) if re.fullmatch(r"-?\d+", token.text) else token.text
            elif token.kind == "ident":
                result[key] = token.text
            else:
                raise self.error(token, f"expected a value for metadata field {key}")
        return result

    def generic_value(self):
        token = self.peek()
        if token.kind == "{":
            self.next()
            values = []
            while not self.accept("}"):
                if values:
                    self.expect(",", "',' or '}'")
                values.append(self.generic_value())
            return tuple(values)
        token = self.next()
        if token.kind == "string":
            return unescape(token.text)
        if token.kind == "number":
            try:
                return int(token.text)
            except ValueError:
                try:
                    return float(token.text)
                except ValueError:
                    return token.text
        if token.kind == "ident":
            return {"true": True, "false": False}.get(token.text, token.text)
        raise self.error(token, f"expected an attribute value, found {token.text!r}")

    # -- structure ---------------------------------------------------------------------

    def module(self) -> tuple[str, list[_CompSyntax]]:
        name = "module"
        if self.accept("ident", "HloModule"):
            name = self.expect("ident", "the module name").text
            while self.accept(","):
                self.expect("ident", "a module attribute name")
                self.expect("=", "'='")
                self.skip_value()
        comps = []
        while self.peek().kind != "eof":
            comps.append(self.computation())
        if not comps:
            raise self.error(self.peek(), "expected a computation")
        return name, comps

    def computation(self) -> _CompSyntax:
        is_entry = bool(self.accept("ident", "ENTRY"))
        token = self.expect("ident", "a computation name")
        comp = _CompSyntax(token.text, token, is_entry)
        if self.peek().kind == "(":  # signature `(p: f32[]) -> f32[]`, implied by the body
            self.skip_value()
            self.expect("->", "'->' in the computation signature")
            self.shape()
        self.expect("{", "'{' opening the computation body")
        while not self.accept("}"):
            comp.instructions.append(self.instruction())
        if not comp.instructions:
            raise self.error(token, f"computation {token.text} has no instructions")
        return comp

    def instruction(self) -> _InstSyntax:
        is_root = False
        if self.peek().text == "ROOT" and self.peek(1).kind == "ident":
            self.next()
            is_root = True
        name = self.expect("ident", "an instruction name or '}'")
        self.expect("=", f"'=' after instruction name {name.text}")
        shape = self.shape()
        opcode_token = self.expect("ident", "an opcode")
        opcode = opcode_token.text
        if opcode not in OPCODES:
            raise self.error(opcode_token, f"unknown opcode {opcode!r}")
        inst = _InstSyntax(name.text, name, shape, opcode, is_root=is_root)
        self.expect("(", f"'(' after {opcode}")
        if opcode == "parameter":
            inst.attrs["parameter_number"] = self.integer("a parameter number")
            self.expect(")", "')'")
        elif opcode == "constant":
            inst.attrs["literal"] = self.literal(shape)
            self.expect(")", "')' after the literal")
        else:
            while not self.accept(")"):
                if inst.operands:
                    self.expect(",", "',' or ')' in the operand list")
                if self.at_shape():  # older dumps write `add(f32[] x, f32[] y)`
                    self.shape()
                inst.operands.append(self.expect("ident", "an operand name"))
        while self.accept(","):
            self.attribute(inst)
        if inst.callee_roles or opcode in CALLEE_ROLES:
            inst.callees += self.role_callees(inst, opcode_token)
        for key in _REQUIRED_ATTRS.get(opcode, ()):
            if key not in inst.attrs:
                raise self.error(opcode_token, f"{opcode} {name.text} needs attribute {key}")
        for key, value in ATTR_DEFAULTS.get(opcode, {}).items():
            inst.attrs.setdefault(key, value)
        if opcode == "dot":
            for key in OMITTED_WHEN_EMPTY:
                inst.attrs.setdefault(key, ())
            # Builder order, so attribute dicts compare and print the same either way.
            inst.attrs = {k: inst.attrs.pop(k) for k in _DOT_ATTR_ORDER} | inst.attrs
        return inst


def _parse_window(parser: _Parser):
    """`{size=3x3 stride=2x2 pad=0_1x0_1 lhs_dilate=1x1 rhs_dilate=2x2}`."""
    start = parser.expect("{", "'{' opening a window")
    fields = {}
    while not parser.accept("}"):
        key = parser.expect("ident", "a window field such as size").text
        parser.expect("=", f"'=' after {key}")
        fields[key] = parser.expect("number", f"the values of window field {key}").text
    if not fields:
        return ()
    try:
        return parse_window_fields(fields)
    except ValueError as err:
        raise parser.error(start, str(err)) from None


def _parse_dim_labels(parser: _Parser):
    token = parser.expect("dim_labels", "dimension labels such as b01f_01io->b01f")
    try:
        return ConvDimensionNumbers.from_labels(token.text)
    except ValueError as err:
        raise parser.error(token, str(err)) from None


_DOT_ATTR_ORDER = ("lhs_batch_dims", "rhs_batch_dims", "lhs_contracting_dims",
                   "rhs_contracting_dims")

#: Attribute name -> how its value is parsed (called computations and metadata aside).
def _parse_bool(parser: _Parser) -> bool:
    """`true` or `false` (is_stable, indices_are_sorted, unique_indices)."""
    token = parser.expect("ident", "true or false")
    if token.text not in ("true", "false"):
        raise parser.error(token, f"expected true or false, found {token.text!r}")
    return token.text == "true"


_ATTR_PARSERS: dict[str, Callable[[_Parser], object]] = {
    "iota_dimension": _Parser.integer,
    "index": _Parser.integer,
    "slice": _Parser.slice_spec,
    "padding": _Parser.padding_spec,
    "dimensions": _Parser.int_list,
    "lhs_batch_dims": _Parser.int_list,
    "lhs_contracting_dims": _Parser.int_list,
    "rhs_batch_dims": _Parser.int_list,
    "rhs_contracting_dims": _Parser.int_list,
    "direction": _Parser.word,
    "kind": _Parser.word,
    "window": _parse_window,
    "dim_labels": _parse_dim_labels,
    "feature_group_count": _Parser.integer,
    "batch_group_count": _Parser.integer,
    "offset_dims": _Parser.int_list,
    "collapsed_slice_dims": _Parser.int_list,
    "start_index_map": _Parser.int_list,
    "update_window_dims": _Parser.int_list,
    "inserted_window_dims": _Parser.int_list,
    "scatter_dims_to_operand_dims": _Parser.int_list,
    "index_vector_dim": _Parser.integer,
    "slice_sizes": _Parser.int_list,
    "dynamic_slice_sizes": _Parser.int_list,
    "fft_type": _Parser.word,
    "fft_length": _Parser.int_list,
    "is_stable": _parse_bool,
    "indices_are_sorted": _parse_bool,
    "unique_indices": _parse_bool,
}


# =========================================================================================
# Parsing: syntax records -> IR
# =========================================================================================

class _ModuleBuilder:
    """Turns syntax records into Computations, resolving names in any definition order."""

    def __init__(self, parser: _Parser, comps: list[_CompSyntax]):
        self.parser = parser
        self.syntax: dict[str, _CompSyntax] = {}
        for comp in comps:
            if comp.name in self.syntax:
                raise parser.error(comp.token, f"duplicate computation name {comp.name!r}")
            self.syntax[comp.name] = comp
        self.built: dict[str, Computation] = {}
        self.used_names: set[str] = set()

    def computation(self, name: str, token: Token, active: tuple[str, ...] = ()) -> Computation:
        if name in self.built:
            return self.built[name]
        if name in active:
            raise self.parser.error(token, f"computation {name} calls itself")
        syntax = self.syntax.get(name)
        if syntax is None:
            raise self.parser.error(token, f"unknown computation {name!r}")
        # Callees first: shape checks of calls need their callee's root.
        for inst in syntax.instructions:
            for callee in inst.callees:
                self.computation(callee.text, callee, active + (name,))
        self.built[name] = self._build(syntax)
        return self.built[name]

    def _build(self, syntax: _CompSyntax) -> Computation:
        comp = Computation(syntax.name)
        by_name: dict[str, _InstSyntax] = {}
        for inst in syntax.instructions:
            if inst.name in by_name:
                raise self.parser.error(inst.token, f"duplicate instruction name {inst.name!r} "
                                                    f"in computation {syntax.name}")
            by_name[inst.name] = inst
        made: dict[str, Instruction] = {}
        for inst in syntax.instructions:
            self._make(inst, by_name, made, comp)
        roots = [i for i in syntax.instructions if i.is_root]
        if len(roots) > 1:
            raise self.parser.error(roots[1].token, f"computation {syntax.name} has two ROOTs")
        comp.root = made[(roots[0] if roots else syntax.instructions[-1]).name]
        return comp

    def _make(self, top: _InstSyntax, by_name, made, comp: Computation) -> None:
        # Iterative depth-first creation, so operands may be written after their users.
        stack, active = [top], set()
        while stack:
            inst = stack[-1]
            if inst.name in made:
                stack.pop()
                continue
            active.add(inst.name)
            pending = []
            for token in inst.operands:
                operand = by_name.get(token.text)
                if operand is None:
                    raise self.parser.error(token, f"unknown operand {token.text!r} in "
                                                   f"computation {comp.name}")
                if token.text not in made:
                    if token.text in active:
                        raise self.parser.error(token, f"{inst.name} depends on itself "
                                                       f"through {token.text}")
                    pending.append(operand)
            if pending:
                stack.extend(reversed(pending))
                continue
            stack.pop()
            active.discard(inst.name)
            made[inst.name] = comp.add(self._instruction(inst, made))

    def _instruction(self, syntax: _InstSyntax, made) -> Instruction:
        called = [self.built[t.text] for t in syntax.callees]
        name = syntax.name
        n = 1
        while name in self.used_names:  # XLA names are module-wide; rename repeats
            name, n = f"{syntax.name}.{n}", n + 1
        self.used_names.add(name)
        inst = Instruction(syntax.opcode, syntax.shape, [made[t.text] for t in syntax.operands],
                           syntax.attrs, called, name=name, metadata=syntax.metadata)
        try:
            expected = expected_shape(inst)
        except (ShapeError, KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
            raise self.parser.error(syntax.token, f"{syntax.opcode} {syntax.name}: {err}") from None
        if expected is not None and not expected.same_array(syntax.shape):
            raise self.parser.error(
                syntax.token, f"{syntax.name} is declared {syntax.shape} but {syntax.opcode} "
                              f"of its operands gives {expected}")
        if syntax.opcode == "iota":
            dim = syntax.attrs["iota_dimension"]
            if syntax.shape.is_tuple or not 0 <= dim < syntax.shape.rank:
                raise self.parser.error(syntax.token, f"iota_dimension {dim} out of range "
                                                      f"for {syntax.shape}")
        return inst


def parse_module(text: str) -> Module:
    """Parse HLO text into a Module; raises HloParseError with line and column."""
    parser = _Parser(text)
    name, comps = parser.module()
    entries = [c for c in comps if c.is_entry]
    if len(entries) > 1:
        raise parser.error(entries[1].token, "more than one ENTRY computation")
    entry_syntax = entries[0] if entries else comps[-1]  # XLA's rule: else the last one
    builder = _ModuleBuilder(parser, comps)
    entry = builder.computation(entry_syntax.name, entry_syntax.token)
    return Module(name, entry)
