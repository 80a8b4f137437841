"""Names that end up in generated C/C++ text: identifiers, comments, string literals.

Everything the generated header spells as an identifier (class, namespaces, accessor
suffixes, the entry symbol) must pass `is_c_identifier`. Everything else that comes from
the user (graph node names, Config names, the target triple) is only ever written through
`c_string` (inside a string literal) or `c_comment` (inside a comment), which guarantee
that the text cannot end the literal or comment, splice lines, or form trigraphs.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

from aotc.frontend.identifiers import C_KEYWORDS, is_c_identifier  # noqa: F401 (re-exported)


def validate_identifier(name: str, what: str) -> str:
    """Return `name` if it is a C identifier, else raise ValueError naming `what`."""
    if not is_c_identifier(name):
        raise ValueError(
            f"{what} {name!r} is not a valid C/C++ identifier "
            "(letters, digits and '_', not starting with a digit, not a keyword)"
        )
    return name


#: Members of the generated C++ class: the class may not be named like one of them (a
#: constructor named like a member function does not compile).
GENERATED_MEMBERS = frozenset(
    """AllocMode kNumArgs kNumResults kNumVariables kTempBytes kConstantBytes ArgSize
    ResultSize VariableSize Run error_msg set_run_options set_thread_pool arg_data
    set_arg_data result_data LookupArgIndex LookupResultIndex LookupVariableIndex
    EntrySymbol ProgramShape LookupName HasNameIndices results num_args num_results
    num_variables arg_size result_size""".split()
)

#: The shipped runtime header's file stem; an artifact named so would overwrite it.
RUNTIME_STEM = "aotc_runtime"

#: Global names a C or C++ program has besides the libraries' symbols, and what they are.
PROGRAM_NAMES = {"main": "the program's own entry point", "assert": "the macro of <assert.h>",
                 "std": "the C++ standard library's namespace"}


@functools.lru_cache(maxsize=1)
def _reserved() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(library symbols, standard macros, names aotc_runtime.h declares)."""
    text = resources.files("aotc").joinpath("reserved_names.txt").read_text(encoding="utf-8")
    symbols, macros = set(), set()
    for line in text.splitlines():
        kind, _, name = line.partition(" ")
        if kind == "symbol":
            symbols.add(name)
        elif kind == "macro":
            macros.add(name)
    runtime = resources.files("aotc.runtime").joinpath(f"{RUNTIME_STEM}.h").read_text(
        encoding="utf-8")
    # Its namespace `aotc` may hold the class too; its other names may not be reused.
    declared = set(re.findall(r"\b(?:aotc|AOTC|Aotc)\w*", runtime)) - {"aotc"}
    return frozenset(symbols), frozenset(macros), frozenset(declared)


def reserved_reason(name: str, global_scope: bool) -> str | None:
    """Why `name` may not be a generated identifier, or None if it may.

    Everywhere: identifiers C/C++ reserve (a leading double underscore, or an underscore
    and a capital), macros of the standard headers, and what aotc_runtime.h declares. At
    global scope (a C symbol, an outermost namespace) also the symbols libc, libm,
    libstdc++ and friends export, and the names a program defines (`main`).
    """
    symbols, macros, runtime = _reserved()
    if name.startswith("__") or re.match(r"_[A-Z]", name):
        return "an identifier reserved for the C/C++ implementation"
    if name in macros:
        return "a macro of the standard C/C++ headers"
    if name in runtime:
        return f"declared by {RUNTIME_STEM}.h"
    if global_scope and name in PROGRAM_NAMES:
        return PROGRAM_NAMES[name]
    if global_scope and name in symbols:
        return "a symbol of the C/C++ runtime libraries (libc, libm, libstdc++)"
    return None


def validate_cpp_class(cpp_class: str) -> list[str]:
    """Split a class name like "foo::bar::Name" into its components, or raise ValueError.

    A leading "::" (the global namespace, as tfcompile accepts it) is dropped. Every
    component must be a C identifier that no standard header, runtime library or
    aotc_runtime.h claims (see `reserved_reason`); the class may not live in namespace
    std nor be named like a member of the generated class.
    """
    parts = cpp_class.removeprefix("::").split("::")
    for depth, part in enumerate(parts):
        if not is_c_identifier(part):
            raise ValueError(
                f"invalid C++ class name {cpp_class!r}: component {part!r} is not a valid "
                "C++ identifier (expected e.g. 'foo::bar::MyComp')"
            )
        reason = reserved_reason(part, global_scope=depth == 0)
        if reason:
            raise ValueError(f"invalid C++ class name {cpp_class!r}: {part!r} is {reason}")
    if parts[-1] in GENERATED_MEMBERS:
        raise ValueError(
            f"invalid C++ class name {cpp_class!r}: {parts[-1]!r} clashes with a generated member"
        )
    return parts


def validate_entry_symbol(symbol: str) -> str:
    """Return `symbol` if it can name the exported entry function, else raise ValueError."""
    validate_identifier(symbol, "entry symbol")
    reason = reserved_reason(symbol, global_scope=True)
    if reason:
        raise ValueError(f"entry symbol {symbol!r} is {reason}; a program linking the "
                         "object would call the wrong function")
    return symbol


def validate_file_base(name: str) -> str:
    """Return `name` if it is a safe base name for the artifact's files, else raise."""
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*", name) or ".." in name:
        raise ValueError(
            f"invalid artifact name {name!r}: use letters, digits, '_', '-', '.', '+' "
            "(no path separators)"
        )
    if name == RUNTIME_STEM:
        raise ValueError(f"invalid artifact name {name!r}: {name}.h is the runtime header "
                         "shipped next to every artifact")
    return name


# ---------------------------------------------------------------------------------------
# Every generated identifier, against the others


def _accessors(prefix: str, *, setter: bool = True) -> list[str]:
    """The members the header declares for one buffer accessor prefix (e.g. arg_x)."""
    names = [prefix, f"{prefix}_data", f"{prefix}_size", f"{prefix}_count"]
    return names + ([f"set_{prefix}_data"] if setter else [])


def generated_identifiers(program) -> dict[str, list[str]]:
    """Identifier -> what generates it, for every name the header declares from the
    program (members of the class, macros and symbols at global scope)."""
    owners: dict[str, list[str]] = {}

    def add(identifier: str, owner: str) -> None:
        owners.setdefault(identifier, [])
        if owner not in owners[identifier]:
            owners[identifier].append(owner)

    var_args = {v.arg_index for v in program.variables}
    var_results = {v.result_index for v in program.variables}
    for member in GENERATED_MEMBERS:
        add(member, "the generated class's own API")
    for i, arg in enumerate(program.args):
        for member in _accessors(f"arg{i}"):
            add(member, f"arg {i}")
        if arg.name and i not in var_args:
            for member in _accessors(f"arg_{arg.name}"):
                add(member, f"feed '{arg.name}'")
    for i, result in enumerate(program.results):
        for member in _accessors(f"result{i}", setter=False):
            add(member, f"result {i}")
        if result.name and i not in var_results:
            for member in _accessors(f"result_{result.name}", setter=False):
                add(member, f"fetch '{result.name}'")
    for var in program.variables:
        if var.name:
            for member in _accessors(f"var_{var.name}"):
                add(member, f"variable '{var.name}'")
    parts = program.cpp_class.removeprefix("::").split("::")
    add(parts[-1], f"the class name (--cpp_class {program.cpp_class})")
    prefix = sanitize_identifier(program.name).upper()
    for macro in ("NUM_ARGS", "NUM_RESULTS", "NUM_VARIABLES", "TEMP_BYTES",
                  "CONSTANT_BYTES", "ARG_SIZES", "RESULT_SIZES", "VARIABLE_SIZES"):
        add(f"{prefix}_{macro}", f"the macros of --name {program.name}")
    add(program.entry_symbol, f"the entry symbol (--entry_point {program.entry_symbol})")
    if len(parts) > 1:
        add(parts[0], f"the outermost namespace of --cpp_class {program.cpp_class}")
    return owners


def check_program_names(program) -> None:
    """Raise ValueError if two things the header generates share an identifier, or one is
    reserved; the message names both sides."""
    validate_file_base(program.name)
    validate_cpp_class(program.cpp_class)
    validate_entry_symbol(program.entry_symbol)
    for identifier, owners in sorted(generated_identifiers(program).items()):
        if len(owners) > 1:
            raise ValueError(f"{owners[0]} and {owners[1]} both generate the identifier "
                             f"'{identifier}' in the header; rename one of them")
        if not owners[0].startswith("the ") and reserved_reason(identifier, False):
            raise ValueError(f"{owners[0]} generates '{identifier}', which is "
                             f"{reserved_reason(identifier, False)}")


def sanitize_identifier(text: str) -> str:
    """Turn arbitrary text into an identifier fragment (for macros and include guards)."""
    ident = re.sub(r"[^A-Za-z0-9_]", "_", text)
    if not ident or ident[0].isdigit():
        ident = "aotc_" + ident
    return ident


# ---------------------------------------------------------------------------------------
# String literals

#: Characters with a short escape; everything else outside printable ASCII is octal.
_STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "?": "\\?", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def c_string(text: str) -> str:
    """`text` as a C/C++ string literal, quotes included.

    Non-ASCII characters become their UTF-8 bytes as three-digit octal escapes (octal
    escapes stop after three digits, unlike hex ones, so a following digit can never be
    swallowed). '?' is always escaped so no trigraph can form in C modes that have them.
    """
    out = []
    for char in text:
        if char in _STRING_ESCAPES:
            out.append(_STRING_ESCAPES[char])
        elif " " <= char <= "~":
            out.append(char)
        else:
            out.extend(f"\\{byte:03o}" for byte in char.encode("utf-8"))
    return '"' + "".join(out) + '"'


# ---------------------------------------------------------------------------------------
# Comments

# Pairs that must not appear next to each other in comment text: "*/" ends a block
# comment, "/*" inside one is a -Wcomment warning (an error under -Werror), and "??" may
# start a trigraph ("??/" is a backslash, which could splice the next line).
_COMMENT_BREAKS = {("*", "/"), ("/", "*"), ("?", "?")}


def c_comment(text: str) -> str:
    """`text` made safe to place inside a one-line `/* */` or `//` comment.

    Printable ASCII stays as is, except that the second character of "*/", "/*" and "??"
    is written as an escape; backslash, control characters (newlines included) and
    non-ASCII are written as \\xNN or \\uNNNN. So the result has no newline, never ends in
    a backslash (every backslash is followed by 'x' or 'u'), and cannot close the comment.
    """
    out: list[str] = []
    prev = ""
    for char in text:
        if (prev, char) in _COMMENT_BREAKS or char == "\\" or not " " <= char <= "~":
            code = ord(char)
            piece = f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
            prev = piece[-1]
        else:
            piece = char
            prev = char
        out.append(piece)
    return "".join(out)
