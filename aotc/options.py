"""Compile options: one frozen dataclass shared by the CLI and the Python API.

The CLI spells options as tfcompile does (`--cpp_class`, `--target_triple`, ...); the Python
API takes the same names as keyword arguments. `CompileOptions.resolve` checks them and fills
in every default that depends on another option (the output directory and base name from
tfcompile's output paths, the class from the graph's file name, the entry symbol, the
backend's own flags) exactly once, returning a new frozen object that every later stage
reads and none changes.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, fields
from pathlib import Path

from aotc.backends.registry import backend_classes, backend_names, get_backend

from .names import (is_c_identifier, validate_cpp_class, validate_entry_symbol,
                    validate_file_base)


class OptionError(ValueError):
    """An option value that cannot work; the message names the flag."""


@dataclass(frozen=True)
class CompileOptions:
    """Everything `aotc compile` can be told besides the graph and the Config."""

    cpp_class: str = ""
    name: str = ""  # base name of the output files; default: from the class name
    out_dir: str = "."
    target_triple: str = ""
    target_cpu: str = ""
    target_features: str = ""
    entry_point: str = ""
    # tfcompile's output paths: the writer puts these files exactly there as well.
    out_header: str = ""
    out_function_object: str = ""
    out_metadata_object: str = ""  # tfcompile's helper object: here, the metadata as data
    out_constant_buffers_object: str = ""  # written empty: constants live in the .o
    gen_name_to_index: bool = False
    gen_program_shape: bool = False
    backend: str = "cpu"
    # The chosen backend's own flags (BackendFlag), as sorted (name, value) pairs.
    backend_flags: tuple[tuple[str, str], ...] = ()
    gen_test: bool = False
    gen_benchmark: bool = False
    shared: bool = False
    dump_hlo: str = ""
    report: bool = False  # print a summary: kernels, fused ops, buffer sizes (aotc/report.py)
    quiet: bool = False  # no progress line on a terminal (aotc/progress.py)
    threads: int = 4
    # SavedModel inputs only (aotc/importers.py): which signature of which MetaGraph,
    # the variables that stay arguments ("all" or comma-separated variable nodes), another
    # checkpoint than <dir>/variables/variables, and saved_model_cli's names
    # (feed_<key>, fetch_<key>, param_<variable>), which `aotc aot_compile_cpu` sets.
    signature_def_key: str = ""  # default serving_default
    tag_set: str = ""  # default serve
    variables_to_feed: str = ""
    checkpoint_path: str = ""
    saved_model_cli_names: bool = False
    resolved: bool = False  # set by `resolve`; a resolved object is final

    @classmethod
    def from_kwargs(cls, **kwargs) -> "CompileOptions":
        """Options from keyword arguments: the fields above, plus any registered backend's
        flags (`gpu_arch=...`), which are collected into `backend_flags`."""
        known = {f.name for f in fields(cls)} - {"backend_flags", "resolved"}
        flag_names = {flag.name for b in backend_classes() for flag in b.flags}
        flags = {k: kwargs.pop(k) for k in list(kwargs) if k in flag_names}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise OptionError(f"unknown option(s): {', '.join(unknown)}; "
                              f"known: {', '.join(sorted(known | flag_names))}")
        return cls(**kwargs, backend_flags=tuple(sorted((k, str(v)) for k, v in flags.items())))

    def backend_flag(self, name: str) -> str:
        """The value of the chosen backend's flag `name` (its default when not given)."""
        return dict(self.backend_flags)[name]

    def resolve(self, graph_path: str | None = None) -> "CompileOptions":
        """Check every option and fill in the derived defaults; returns a new, final object
        (or self, when already resolved). `graph_path` names the default class."""
        if self.resolved:
            return self
        out_dir, name = self._output_defaults()
        cpp_class = self.cpp_class or _camel(_stem(graph_path) if graph_path else "model")
        try:
            validate_cpp_class(cpp_class)
        except ValueError as e:
            raise OptionError(f"--cpp_class: {e}") from None
        name = name or _snake(cpp_class.split("::")[-1])
        if not is_c_identifier(name):
            raise OptionError(f"--name {name!r}: use letters, digits and '_' (not a C keyword)")
        entry_point = self.entry_point or f"{name}_entry"
        if not is_c_identifier(entry_point):
            raise OptionError(f"--entry_point {entry_point!r} is not a C identifier")
        for flag, check, value in (("--name", validate_file_base, name),
                                   ("--entry_point", validate_entry_symbol, entry_point)):
            try:
                check(value)  # reserved names (aotc.names); caught here, before compiling
            except ValueError as e:
                raise OptionError(f"{flag}: {e}") from None
        if self.threads < 1:
            raise OptionError(f"--threads must be at least 1, got {self.threads}")
        return dataclasses.replace(
            self, cpp_class=cpp_class, name=name, out_dir=out_dir, entry_point=entry_point,
            backend_flags=self._backend_flags(), resolved=True)

    def _output_defaults(self) -> tuple[str, str]:
        """tfcompile's build rules give output paths, not a directory and a name: derive
        -o and --name from --out_function_object (else --out_header) when not given."""
        out_dir, name = self.out_dir, self.name
        paths = [Path(p) for p in (self.out_function_object, self.out_header) if p]
        if paths:
            if out_dir in ("", "."):
                out_dir = str(paths[0].parent)
            if not name:
                name = _identifier(paths[0].name.split(".")[0])
        return out_dir or ".", name

    def _backend_flags(self) -> tuple[tuple[str, str], ...]:
        """The chosen backend's flags with their defaults; another backend's is an error."""
        if self.backend not in backend_names():
            raise OptionError(f"--backend must be one of {', '.join(backend_names())}, "
                              f"got {self.backend!r}")
        given = dict(self.backend_flags)
        own = {flag.name: flag for flag in get_backend(self.backend).flags}
        for flag_name in given:
            if flag_name not in own:
                owners = [b.name for b in backend_classes() if flag_name in {f.name for f in b.flags}]
                raise OptionError(f"--{flag_name} applies to --backend {' or '.join(owners)}, "
                                  f"not {self.backend}")
        values = {}
        for flag in own.values():
            value = given.get(flag.name, flag.default)
            if flag.choices is not None and value not in flag.choices:
                raise OptionError(f"--{flag.name} must be one of {', '.join(flag.choices)}, "
                                  f"got {value!r}")
            values[flag.name] = value
        return tuple(sorted(values.items()))


def _stem(path: str) -> str:
    base = re.split(r"[\\/]", path)[-1].split(".")[0]
    return re.sub(r"[^A-Za-z0-9_]", "_", base) or "model"


def _identifier(stem: str) -> str:
    ident = re.sub(r"[^A-Za-z0-9_]", "_", stem) or "model"
    return "model_" + ident if ident[0].isdigit() else ident


def _camel(text: str) -> str:
    camel = "".join(part[:1].upper() + part[1:] for part in text.split("_") if part)
    return camel if camel[:1].isalpha() else "Model" + camel


def _snake(text: str) -> str:
    """MatMulComp -> mat_mul_comp; already-snake names pass through."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text).lower()
