"""tfcompile's command line on `aotc compile`, for drop-in use in existing build rules.

tfcompile (tensorflow/compiler/aot/flags.cc) takes every input as a flag
(`--graph=g.pb --config=c.pbtxt`), booleans as `--flag`, `--flag=true` or `--flag=false`,
and XLA's debug options as `--xla_*` flags. `aotc compile` accepts all of them next to its
own spellings. Flags that name something aotc has no counterpart for are accepted and
reported with a one-line notice on stderr, so a build that passes them keeps working;
flags whose absence of effect would silently change the result (`--hlo_module`) are
errors.

The CLI calls `extract_xla_flags` on the raw argv (argparse cannot match a prefix),
`add_arguments` when building the parser, and `take` on the parsed values.
"""

from __future__ import annotations

import argparse

from .options import OptionError

#: Flags accepted for compatibility that change nothing: flag -> why (one line each).
IGNORED_FLAGS = {
    "out_session_module": "aotc writes no session module (use --dump-hlo DIR for the HLO)",
    "mlir_components": "aotc has a single lowering pipeline",
    "experimental_quantize": "aotc does not quantize",
    "sanitize_dataflow": "aotc does not instrument code for DataFlowSanitizer",
    "sanitize_abilists_dataflow": "aotc does not instrument code for DataFlowSanitizer",
    "use_xla_nanort_runtime": "aotc's code needs no XLA runtime",
    "debug_info": "aotc's messages name graph nodes, not Python source lines",
    "debug_info_path_begin_marker": "aotc's messages name graph nodes, not Python source lines",
}

#: Boolean flags among the ignored ones (they may appear without a value).
_IGNORED_BOOLS = frozenset({"experimental_quantize", "sanitize_dataflow",
                            "use_xla_nanort_runtime"})

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def parse_bool(text: str) -> bool:
    """tfcompile-style boolean flag values: true/false (also 1/0, yes/no, on/off)."""
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_bool_flag(group, flag: str, help: str) -> None:  # noqa: A002 - argparse's name
    """A boolean flag usable as `--flag`, `--flag=true` or `--flag=false`."""
    group.add_argument(flag, nargs="?", const=True, default=False, type=parse_bool,
                       metavar="BOOL", help=help)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """tfcompile's flags that `aotc compile` does not already define."""
    group = parser.add_argument_group(
        "tfcompile compatibility",
        "tfcompile's flags, for drop-in use; --xla_* flags (XLA debug options) are accepted "
        "and ignored with a notice.")
    group.add_argument("--graph", dest="graph_flag", default="", metavar="FILE",
                       help="the GraphDef, as tfcompile spells it (instead of GRAPH)")
    group.add_argument("--config", dest="config_flag", default="", metavar="FILE",
                       help="the tf2xla Config, as tfcompile spells it (instead of CONFIG)")
    group.add_argument("--hlo_module", default="", metavar="FILE",
                       help="not supported: aotc compiles GraphDefs, not HLO module protos")
    add_bool_flag(group, "--dump_fetch_nodes",
                  "print the Config's fetch node names, comma-separated, and compile nothing")
    group.add_argument("--out_metadata_object", default="", metavar="FILE",
                       help="also write an object file holding the artifact's metadata "
                       "(JSON) as data; aotc's function object needs no helper object")
    group.add_argument("--out_constant_buffers_object", default="", metavar="FILE",
                       help="also write an (empty) object file: aotc keeps constants "
                       "inside the function object")
    for flag, why in IGNORED_FLAGS.items():
        if flag in _IGNORED_BOOLS:
            add_bool_flag(group, f"--{flag}", f"accepted and ignored: {why}")
        else:
            group.add_argument(f"--{flag}", default=None, metavar="VALUE",
                               help=f"accepted and ignored: {why}")


def extract_xla_flags(argv: list[str]) -> tuple[list[str], list[str]]:
    """Split `--xla_*` flags (tfcompile forwards them to XLA) out of a compile argv.

    Returns (the remaining argv, the XLA flags). tfcompile takes them only in the
    one-token form `--xla_name=value` or `--xla_name`, so no value token follows.
    """
    if not argv or argv[0] != "compile":
        return argv, []
    rest, xla = [], []
    for i, arg in enumerate(argv):
        if arg == "--":  # everything after is positional
            rest.extend(argv[i:])
            break
        (xla if arg.startswith("--xla_") else rest).append(arg)
    return rest, xla


def take(values: dict) -> tuple[str | None, str | None, list[str]]:
    """Remove the tfcompile-only entries from the parsed `values` (a vars() dict).

    Returns (graph path, config path, notices). The graph and Config may come as
    positionals or as --graph/--config, but not both ways with different files.
    `--dump_fetch_nodes` stays in `values` for the CLI to act on.
    """
    graph = _one_of(values.pop("graph", None), values.pop("graph_flag", ""), "GRAPH", "--graph")
    config = _one_of(values.pop("config", None), values.pop("config_flag", ""), "CONFIG",
                     "--config")
    if values.pop("hlo_module", ""):
        raise OptionError("--hlo_module is not supported: aotc compiles a GraphDef "
                          "(--graph) and a Config (--config), not an HLO module proto; "
                          "HLO text compiles as GRAPH (a *.hlo file, no Config)")
    notices = []
    for flag, why in IGNORED_FLAGS.items():
        value = values.pop(flag, None)
        if value not in (None, False):
            notices.append(f"--{flag} has no effect: {why}")
    return graph, config, notices


def _one_of(positional: str | None, flag: str, name: str, spelling: str) -> str | None:
    if positional and flag and positional != flag:
        raise OptionError(f"{name} given twice: as {positional!r} and as {spelling}={flag!r}")
    return positional or flag or None


def xla_notice(flags: list[str]) -> str:
    """The one-line notice for ignored `--xla_*` flags."""
    names = ", ".join(f.split("=", 1)[0] for f in flags)
    return (f"{names} ha{'s' if len(flags) == 1 else 've'} no effect: XLA debug options do "
            "not apply to aotc (see aotc compile --help for its own options)")


def fetch_nodes(config) -> str:
    """tfcompile's --dump_fetch_nodes output: the fetched node names, sorted, unique."""
    from aotc.frontend.graph import to_config

    proto = to_config(config)
    return ",".join(sorted({fetch.id.node_name for fetch in proto.fetch}))
