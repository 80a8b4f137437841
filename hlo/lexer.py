"""The HLO text lexer: tokens for the parser (parser.py), with a fast path that reads a
large constant's array literal at NumPy speed, and `HloParseError`, which names the line
and column of what could not be read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .dtypes import DType


class HloParseError(ValueError):
    """HLO text that cannot be parsed; carries the 1-based `line` and `column`."""

    def __init__(self, message: str, line: int, column: int, source_line: str = ""):
        self.message, self.line, self.column = message, line, column
        text = f"line {line}, column {column}: {message}"
        if source_line:
            text += f"\n  {source_line}\n  {' ' * (column - 1)}^"
        super().__init__(text)


@dataclass(frozen=True)
class Token:
    kind: str  # "ident", "number", "string", "->", one punctuation character, or "eof"
    text: str
    pos: int


_TOKEN_RE = re.compile(r"""
    (?P<space>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<arrow>->)
  | (?P<dim_labels>[0-9bf]{2,}_[0-9io]{2,}->[0-9bf]{2,}(?![A-Za-z0-9_.\-]))
  | (?P<number>-(?:inf|nan)(?![A-Za-z0-9_.\-])|[-+]?[0-9][A-Za-z0-9_.+\-]*)
  | (?P<ident>%?[A-Za-z_][A-Za-z0-9_.\-]*)
  | (?P<punct>[=,(){}\[\]:*])
""", re.VERBOSE | re.DOTALL)


# A constant's whole array literal, lexed as one token so that large constants parse at
# NumPy speed; anything unusual inside (comments, shapes, strings) takes the general path.
_LITERAL_SPAN = re.compile(r"\{[^()=\"/%\[\]]*\}(?=\s*\))")


def tokenize(text: str, where: Callable[[int], tuple[int, int]], start: int = 0,
              end: int | None = None, literal_spans: bool = True) -> list[Token]:
    tokens, pos = [], start
    end = len(text) if end is None else end
    while pos < end:
        if literal_spans and len(tokens) >= 2 and tokens[-1].kind == "(" \
                and tokens[-2].text == "constant":
            span = _LITERAL_SPAN.match(text, pos, end)
            if span is not None:
                tokens.append(Token("literal", span.group(), pos))
                pos = span.end()
                continue
        match = _TOKEN_RE.match(text, pos, end)
        if match is None:
            line, col = where(pos)
            what = "unterminated comment" if text.startswith("/*", pos) else \
                "unterminated string" if text[pos] == '"' else f"unexpected character {text[pos]!r}"
            raise HloParseError(what, line, col, text.splitlines()[line - 1])
        kind = match.lastgroup
        if kind == "ident":
            tokens.append(Token("ident", match.group().lstrip("%"), pos))
        elif kind == "arrow":
            tokens.append(Token("->", "->", pos))
        elif kind == "punct":
            tokens.append(Token(match.group(), match.group(), pos))
        elif kind != "space":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(Token("eof", "end of input", end))
    return tokens


def _literal_skeleton(dims: tuple[int, ...]) -> str:
    """The literal text of `dims` with every value written 0 and no spaces."""
    if not dims:
        return "0"
    if dims[0] == 0:
        return "{}"
    return "{" + ",".join([_literal_skeleton(dims[1:])] * dims[0]) + "}"


def fast_literal(text: str, dims: tuple[int, ...], t: DType, np_type) -> np.ndarray | None:
    """The array a literal token spells, or None when it is malformed (the caller then
    parses it token by token to say where)."""
    compact = re.sub(r"\s+", "", text)
    if re.sub(r"[^{},]+", "0", compact) != _literal_skeleton(dims):
        return None
    values = re.findall(r"[^{},]+", compact)
    try:
        if t.is_pred:
            flags = {"true": True, "false": False, "1": True, "0": False}
            array = np.array([flags[v] for v in values], dtype=np.bool_)
        elif t.is_float:
            with np.errstate(over="ignore"):
                array = np.array(values, dtype=np.float64).astype(np_type)
        else:
            array = np.array([int(v) for v in values], dtype=np_type)
    except (KeyError, ValueError, OverflowError):
        return None
    return array.reshape(dims)


_ESCAPES_IN = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r", "'": "'"}


def unescape(token: str) -> str:
    body, out, i = token[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "x" and re.match(r"[0-9a-fA-F]{2}", body[i + 2:i + 4]):
                out.append(chr(int(body[i + 2:i + 4], 16)))
                i += 4
                continue
            out.append(_ESCAPES_IN.get(nxt, nxt))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)
