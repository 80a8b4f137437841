"""The `aotc` command line.

    aotc compile GRAPH CONFIG [options]     compile a graph (tfcompile's flag spellings)
    aotc compile --graph=G --config=C ...   the same, exactly as tfcompile is invoked
    aotc compile SAVED_MODEL_DIR [options]  a SavedModel signature (no CONFIG)
    aotc compile MODULE.hlo [options]       XLA HLO text (no CONFIG)
    aotc aot_compile_cpu --dir D ...        saved_model_cli's aot_compile_cpu
    aotc ops [--markdown | --missing]       list the TensorFlow ops aotc can compile (or lacks)

User errors (a bad graph, Config or flag) print one `aotc: error: ...` message and exit
with status 1; a traceback means a bug in aotc.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys

from . import saved_model_cli, tfcompile_flags
from .errors import USER_ERRORS
from .options import OptionError

_DESCRIPTION = """\
aotc compiles a frozen TensorFlow GraphDef, a SavedModel or XLA HLO text ahead of time into a
self-contained object file plus a C/C++ header (a C API and a tfcompile-compatible C++
class), for linking into any C++ program without the TensorFlow runtime."""


def _add_compile_parser(subparsers, with_backends: bool) -> None:
    """The `compile` command; its --backend and backend flags only when `with_backends`
    (they load every backend, LLVM included: only `compile` needs them)."""
    p = subparsers.add_parser(
        "compile",
        help="compile GRAPH with the feeds and fetches of CONFIG (or a SavedModel, or HLO "
        "text)",
        description="Compile a frozen GraphDef for the feeds and fetches of a tf2xla Config. "
        "Files ending in .pbtxt are read as text protos, others as binary. GRAPH may also be "
        "a SavedModel directory (its signature gives the arguments and results) or an XLA "
        "HLO text file *.hlo (the entry's parameters are the arguments, its root tuple the "
        "results); neither takes a CONFIG.",
    )
    p.add_argument("graph", metavar="GRAPH", nargs="?", default=None,
                   help="frozen GraphDef (.pb binary or .pbtxt text), SavedModel directory "
                   "or .hlo file; or --graph=FILE")
    p.add_argument("config", metavar="CONFIG", nargs="?", default=None,
                   help="tensorflow.tf2xla.Config (.pb or .pbtxt); or --config=FILE")
    out = p.add_argument_group("output")
    out.add_argument("-o", "--out-dir", dest="out_dir", default=".",
                     help="directory for the artifact files (default: current directory)")
    out.add_argument("--cpp_class", default="",
                     help="fully qualified C++ class, e.g. foo::bar::MatMulComp "
                     "(default: from the graph file name)")
    out.add_argument("--name", default="",
                     help="base name of the files <name>.o/.h/.json (default: the class name "
                     "in snake_case, e.g. mat_mul_comp)")
    out.add_argument("--entry_point", default="",
                     help="symbol of the generated C entry function (default: <name>_entry)")
    out.add_argument("--out_header", default="",
                     help="tfcompile spelling: write the header to exactly this path (with "
                     "aotc_runtime.h next to it); its directory and stem are the defaults "
                     "for -o and --name")
    out.add_argument("--out_function_object", default="",
                     help="tfcompile spelling: write the object file to exactly this path; "
                     "its directory and stem win over --out_header's as defaults")
    tfcompile_flags.add_bool_flag(
        out, "--gen_name_to_index",
        "generate the name tables: without it Lookup{Arg,Result,Variable}Index return -1 "
        "and HasNameIndices() is false, as in tfcompile")
    tfcompile_flags.add_bool_flag(
        out, "--gen_program_shape",
        "generate ProgramShape() (the signature as XLA shape text); without it nullptr")
    out.add_argument("--gen-test", dest="gen_test", action="store_true",
                     help="also write <name>_test.cc (runs the model once on zeros)")
    out.add_argument("--gen-benchmark", dest="gen_benchmark", action="store_true",
                     help="also write <name>_benchmark.cc (times Run)")
    out.add_argument("--shared", action="store_true",
                     help="also link lib<name>.so (for aotc.load and dlopen)")
    tgt = p.add_argument_group("target")
    if with_backends:
        _add_backend_arguments(p, tgt)
    tgt.add_argument("--target_triple", default="",
                     help="LLVM target triple, e.g. aarch64-unknown-linux-gnu (default: host)")
    tgt.add_argument("--target_cpu", default="", help="LLVM CPU name, e.g. skylake (default: host)")
    tgt.add_argument("--target_features", default="",
                     help="LLVM target features, e.g. +avx2,+fma (default: host)")
    tgt.add_argument("--threads", type=int, default=4,
                     help="most tasks the code runs at once on a thread pool given at run time, "
                          "each with its own scratch slot in the temp arena "
                          "(default 4; 1: never calls the pool, the smallest arena)")
    dbg = p.add_argument_group("debugging")
    dbg.add_argument("--dump-hlo", dest="dump_hlo", default="", metavar="DIR",
                     help="write the module after every pass (HLO text and graphviz) to DIR")
    dbg.add_argument("--report", action="store_true",
                     help="print a summary after compiling: kernels (fusions and unfused ops), "
                     "fused ops, temp arena, constant, argument and result bytes, and the "
                     "time spent per stage")
    dbg.add_argument("--quiet", action="store_true",
                     help="no progress line: by default a compile that runs for more than "
                     "a couple of seconds shows its stage on stderr when that is a terminal")
    saved_model_cli.add_saved_model_arguments(p)
    tfcompile_flags.add_arguments(p)


def _add_backend_arguments(p, tgt) -> None:
    from aotc.backends.registry import backend_classes, backend_names

    tgt.add_argument("--backend", default=backend_names()[0], choices=backend_names(),
                     help="code generator")
    for backend in backend_classes():
        if backend.flags:
            group = p.add_argument_group(f"--backend {backend.name}")
            for flag in backend.flags:
                group.add_argument(f"--{flag.name}", default=None, choices=flag.choices,
                                   help=f"{flag.help} (default: {flag.default})")


class _Parser(argparse.ArgumentParser):
    """argparse exits with status 2 on a bad flag; aotc's contract is 1 for every user error."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def _parser(with_backends: bool = True) -> argparse.ArgumentParser:
    parser = _Parser(prog="aotc", description=_DESCRIPTION)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                       parser_class=_Parser)
    _add_compile_parser(subparsers, with_backends)
    saved_model_cli.add_parser(subparsers)
    _add_ops_parser(subparsers)
    return parser


def _tune_gc() -> None:
    """A compile allocates millions of long-lived objects (HLO, llvmlite IR) and little
    cyclic garbage, so CPython's default collector (a young-generation pass every 700
    allocations, each full pass over everything alive) is pure overhead: collect young
    objects far less often and keep the modules already imported out of full passes.
    Only when this process is the `aotc` command (a library or test caller of `main`
    keeps its own settings). Measured: 9% less CPU on MobileNetV2 and EfficientNet-B0,
    the same peak memory."""
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)


def _run_compile(args: argparse.Namespace) -> int:
    from .compiler import compile as compile_model
    from .importers import is_config_free

    values = vars(args).copy()
    values.pop("command")
    graph, config, notices = tfcompile_flags.take(values)
    notices += values.pop("notices", [])
    for notice in notices:
        print(f"aotc: note: {notice}", file=sys.stderr)
    if config is None and not (graph and is_config_free(graph)):
        raise OptionError("no Config: pass CONFIG (after GRAPH) or --config=FILE; a "
                          "SavedModel directory or an .hlo file needs none")
    if values.pop("dump_fetch_nodes"):
        if config is None:
            raise OptionError("--dump_fetch_nodes prints a Config's fetches; pass CONFIG")
        print(tfcompile_flags.fetch_nodes(config))
        return 0
    if graph is None:
        raise OptionError("no graph: pass GRAPH or --graph=FILE")
    # A backend flag that was not given takes the backend's default in CompileOptions.
    from aotc.backends.registry import backend_classes

    flags = {flag.name for b in backend_classes() for flag in b.flags}
    values = {k: v for k, v in values.items() if not (k in flags and v is None)}
    artifact = compile_model(graph, config, **values)
    print(f"aotc: wrote {', '.join(sorted(artifact.files))} to {artifact.out_dir}")
    return 0


def _add_ops_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "ops",
        help="list the TensorFlow ops aotc can compile",
        description="Print every TensorFlow op type that has a lowering rule, one per line "
        "(the registry in frontend/ops is the source).",
    )
    p.add_argument("--markdown", action="store_true",
                   help="print the Markdown of docs/ops.md instead (regenerate it with "
                   "`aotc ops --markdown > docs/ops.md`)")
    p.add_argument("--missing", action="store_true",
                   help="print the ops of the tf2xla inference set (the ops TensorFlow's XLA "
                   "compiles for CPU) that aotc lacks, and the covered fraction")


def _run_ops(args: argparse.Namespace) -> int:
    from . import op_catalog

    if args.markdown and args.missing:
        raise OptionError("--markdown and --missing cannot be combined")
    render = (op_catalog.render_markdown if args.markdown
              else op_catalog.render_missing if args.missing else op_catalog.render_text)
    sys.stdout.write(render(op_catalog.catalog()))
    return 0


_COMMANDS = {"compile": _run_compile, "aot_compile_cpu": saved_model_cli.run, "ops": _run_ops}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `aotc` console script; returns the exit status (with `argv`
    None, this process is the command: it ends here, with that status)."""
    if argv is None:
        _tune_gc()
        _exit_now(_main(sys.argv[1:]))
    return _main(list(argv))


def _exit_now(status: int) -> None:
    """End the `aotc` process without tearing the interpreter down: freeing a big
    compile's millions of objects one by one took 0.3 s of MobileNetV2's 3.6 s. Every
    file is closed by then (staging renames complete outputs); only stdio needs a flush."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: nothing more to say
            pass
    os._exit(status)


def _main(argv: list[str]) -> int:
    argv, xla_flags = tfcompile_flags.extract_xla_flags(argv)
    # Only `compile` needs the backends (and LLVM): other commands and --help start faster.
    command = next((a for a in argv if not a.startswith("-")), None)
    args = _parser(with_backends=command == "compile").parse_args(argv)
    if xla_flags:
        args.notices = [tfcompile_flags.xla_notice(xla_flags)]
    try:
        return _COMMANDS[args.command](args)
    except USER_ERRORS as e:
        print(f"aotc: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
