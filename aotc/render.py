"""Rendering an artifact's generated source: the header, the generated test and benchmark.

Generated text comes from the jinja2 templates in `aotc.templates`; this module only
prepares the data they need (`header_context`): offsets, labels, accessor signatures.
Every user-supplied string reaches the templates through the `c_string` / `c_comment`
filters, and every identifier is validated here first (see `aotc.names`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import jinja2

from aotc import names
from aotc.runtime.program import BUFFER_ALIGNMENT, C_TYPES, Program, TensorSpec

#: The shipped runtime header every generated header includes (runtime/aotc_runtime.h).
RUNTIME_HEADER = "aotc_runtime.h"

#: Config names that would make a named accessor collide with an index-based one
#: (a feed named "data" would declare arg_data(size_t) twice).
RESERVED_BUFFER_NAMES = frozenset({"data"})


# ---------------------------------------------------------------------------------------
# Template data


@dataclass(frozen=True)
class BufferInfo:
    """What the templates need to know about one arg, result or variable."""

    index: int  # position in Program.args / Program.results / Program.variables
    name: str  # Config name ("" = no named accessors)
    node: str
    dtype: str
    c_type: str
    shape: tuple[int, ...]
    shape_text: str  # "float32[2,3]"
    size_bytes: int
    num_elements: int
    offset: int  # byte offset inside the block the C++ class allocates
    label: str  # for comments and error messages
    dims_params: str  # "size_t dim0, size_t dim1" ("" for scalars)
    index_expr: str  # row-major flat index, e.g. "dim0 * 3 + dim1"
    # (params, index) of each element accessor overload: the one above, plus a
    # parameterless one for shape [1] (tfcompile treats [1] like a scalar: arg0() = 1).
    element_accessors: tuple[tuple[str, str], ...]
    arg_index: int = -1  # variables: position in Program.args
    result_index: int = -1  # variables: position in Program.results, -1 if readonly
    readonly: bool = False


def shape_text(spec: TensorSpec) -> str:
    """XLA-style "dtype[d0,d1]" text for messages and comments."""
    return f"{spec.dtype}[{','.join(str(d) for d in spec.shape)}]"


def _row_major_index(shape: tuple[int, ...]) -> str:
    """C expression for the flat row-major index of (dim0, dim1, ...) in `shape`."""
    terms = []
    for axis in range(len(shape)):
        stride = 1
        for d in shape[axis + 1 :]:
            stride *= d
        terms.append(f"dim{axis}" if stride == 1 else f"dim{axis} * {stride}")
    return " + ".join(terms) if terms else "0"


def _element_accessors(shape: tuple[int, ...]) -> tuple[tuple[str, str], ...]:
    params = ", ".join(f"size_t dim{a}" for a in range(len(shape)))
    accessors = ((params, _row_major_index(shape)),)
    return accessors + (("", "0"),) if shape == (1,) else accessors


def _align(n: int) -> int:
    return (n + BUFFER_ALIGNMENT - 1) // BUFFER_ALIGNMENT * BUFFER_ALIGNMENT


def _buffer_infos(kind: str, specs: list[TensorSpec], extra=None) -> tuple[list[BufferInfo], int]:
    """BufferInfos for `specs` laid out back to back (each aligned); also the block size."""
    infos, offset = [], 0
    for i, spec in enumerate(specs):
        _check_spec(kind, i, spec)
        label = f"{kind} {i}"
        if spec.name:
            label += f" '{spec.name}'"
        label += f" (node '{spec.node}', {shape_text(spec)})"
        infos.append(
            BufferInfo(
                index=i,
                name=spec.name,
                node=spec.node,
                dtype=spec.dtype,
                c_type=spec.c_type,
                shape=tuple(spec.shape),
                shape_text=shape_text(spec),
                size_bytes=spec.size_bytes,
                num_elements=spec.num_elements,
                offset=offset,
                label=label,
                dims_params=", ".join(f"size_t dim{a}" for a in range(len(spec.shape))),
                index_expr=_row_major_index(tuple(spec.shape)),
                element_accessors=_element_accessors(tuple(spec.shape)),
                **(extra(spec) if extra else {}),
            )
        )
        offset += _align(spec.size_bytes)
    return infos, offset


def _check_spec(kind: str, index: int, spec: TensorSpec) -> None:
    if spec.dtype not in C_TYPES:
        raise ValueError(f"{kind} {index} ({spec.node!r}): unsupported dtype {spec.dtype!r}")
    if not all(isinstance(d, int) and d >= 0 for d in spec.shape):
        raise ValueError(f"{kind} {index} ({spec.node!r}): invalid shape {spec.shape!r}")
    if spec.name:
        names.validate_identifier(spec.name, f"{kind} {index} name")


def _check_unique(kind: str, infos: list[BufferInfo]) -> None:
    seen: dict[str, int] = {}
    for info in infos:
        if info.name in RESERVED_BUFFER_NAMES:
            raise ValueError(f"{kind} name {info.name!r} is reserved (it clashes with a generated method)")
        if info.name and info.name in seen:
            raise ValueError(
                f"duplicate {kind} name {info.name!r} ({kind}s {seen[info.name]} and {info.index})"
            )
        seen.setdefault(info.name, info.index)
    # Each name also declares <name>_size() and <name>_count(), as tfcompile does.
    for info in infos:
        for suffix in ("_size", "_count"):
            if info.name and info.name + suffix in seen:
                raise ValueError(
                    f"{kind} names {info.name!r} and {info.name + suffix!r} clash: the first "
                    f"declares {info.name + suffix}() (its size accessor)")


def _check_variables(program: Program) -> None:
    """Variables must point at matching args (and results, unless readonly)."""
    for i, var in enumerate(program.variables):
        targets = [("arg", program.args, var.arg_index)]
        if var.readonly != (var.result_index < 0):
            raise ValueError(
                f"variable {i} ({var.node!r}): readonly={var.readonly} but "
                f"result_index={var.result_index}"
            )
        if not var.readonly:
            targets.append(("result", program.results, var.result_index))
        for kind, specs, index in targets:
            if not 0 <= index < len(specs):
                raise ValueError(f"variable {i} ({var.node!r}): {kind} index {index} out of range")
            if (specs[index].dtype, tuple(specs[index].shape)) != (var.dtype, tuple(var.shape)):
                raise ValueError(
                    f"variable {i} ({var.node!r}) is {shape_text(var)} but {kind} {index} "
                    f"is {shape_text(specs[index])}"
                )


def header_context(program: Program) -> dict:
    """Everything header.h.j2 (and the test/benchmark templates) render from."""
    names.check_program_names(program)
    namespaces = names.validate_cpp_class(program.cpp_class)
    if program.temp_bytes < 0 or program.constant_bytes < 0:
        raise ValueError("temp_bytes and constant_bytes must be >= 0")
    _check_variables(program)

    args, args_block = _buffer_infos("arg", program.args)
    results, results_block = _buffer_infos("result", program.results)
    variables, _ = _buffer_infos(
        "variable",
        program.variables,
        lambda v: dict(arg_index=v.arg_index, result_index=v.result_index, readonly=v.readonly),
    )
    var_args = {v.arg_index for v in variables}
    var_results = {v.result_index for v in variables}
    feeds = [a for a in args if a.index not in var_args]
    fetches = [r for r in results if r.index not in var_results]
    # Named accessors share one C++ scope per prefix (arg_, result_, var_); the name
    # tables used by Lookup*Index must be unambiguous too.
    _check_unique("feed", feeds)
    _check_unique("fetch", fetches)
    _check_unique("variable", variables)

    prefix = names.sanitize_identifier(program.name).upper()
    guard = "AOTC_{}_{}_H_".format(prefix, "_".join(namespaces).upper())
    return dict(
        program=program,
        runtime_header=RUNTIME_HEADER,
        header_file=f"{program.name}.h",
        guard=guard,
        prefix=prefix,
        namespaces=namespaces[:-1],
        class_name=namespaces[-1],
        cpp_class=program.cpp_class,
        entry_symbol=program.entry_symbol,
        args=args,
        results=results,
        variables=variables,
        uses_complex=any(s.dtype.startswith("complex") for s in (*program.args, *program.results)),
        feeds=feeds,
        fetches=fetches,
        # Name tables for Lookup*Index: feed names at their arg index, "" elsewhere.
        arg_names=[a.name if a.index not in var_args else "" for a in args],
        result_names=[r.name if r.index not in var_results else "" for r in results],
        args_block_bytes=args_block,
        results_block_bytes=results_block,
        temp_bytes=program.temp_bytes,
        constant_bytes=program.constant_bytes,
        alignment=BUFFER_ALIGNMENT,
    )


# ---------------------------------------------------------------------------------------
# Rendering


def _load_template(name: str) -> str:
    return resources.files("aotc.templates").joinpath(name).read_text(encoding="utf-8")


class _TemplateCache(jinja2.FileSystemBytecodeCache):
    """jinja2's file cache of compiled templates, in its per-user folder under the system
    temp directory (created private; entries keyed by template source and Python
    version): compiling the header template costs ~60 ms, a tenth of a small model's
    compile. A cache that cannot be read or written (a full or read-only disk) is
    skipped: the template is compiled as without one."""

    def load_bytecode(self, bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except OSError:
            pass

    def dump_bytecode(self, bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """The template cache, or None where its folder cannot be made."""
    try:
        return _TemplateCache()
    except (OSError, RuntimeError):
        return None


@functools.lru_cache(maxsize=1)
def template_env() -> jinja2.Environment:
    """The jinja2 environment for all aotc templates (strict, with the C filters)."""
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load_template),
        bytecode_cache=_bytecode_cache(),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["c_string"] = names.c_string
    env.filters["c_comment"] = names.c_comment
    return env


def render(template: str, program: Program, **extra) -> str:
    """Render one template with `header_context(program)` plus `extra`."""
    return template_env().get_template(template).render(**header_context(program), **extra)


def render_header(program: Program) -> str:
    """The text of `<name>.h`."""
    return render("header.h.j2", program)


def render_test(program: Program) -> str:
    """The text of `<name>_test.cc`: allocate, zero the inputs, Run, report."""
    return render("test.cc.j2", program)


def render_benchmark(program: Program) -> str:
    """The text of `<name>_benchmark.cc`: time Run for a while, print statistics."""
    return render("benchmark.cc.j2", program)
