"""`aotc aot_compile_cpu`: TensorFlow's `saved_model_cli aot_compile_cpu`, without TensorFlow.

    aotc aot_compile_cpu --dir D --tag_set serve --signature_def_key K \\
        --output_prefix out/name --cpp_class ns::M [--checkpoint_path P] \\
        [--variables_to_feed a,b|all] [--target_triple T] [--target_cpu C]

writes what saved_model_cli writes, with the names its generated code uses, so that C++
written against its header compiles against ours: `<prefix>.h`, `<prefix>.o`,
`<prefix>_metadata.o`, `<prefix>_constants.o` and `<prefix>_makefile.inc` (INC and LIB
for aotc's files), the entry symbol `__xla_<prefix>__<class>` (non-alphanumerics as '_'),
name-to-index tables on, no ProgramShape; arguments `feed_<input key>`, results
`fetch_<output key>`, fed variables `param_<variable node>` ('/' as '_'), each sorted.
saved_model_cli's other flags are accepted; those that change nothing here print one
`aotc: note:` line each.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

#: saved_model_cli flags that mean nothing to aot_compile_cpu (absl accepts them on every
#: command) or to aotc: flag -> why it has no effect.
IGNORED_FLAGS = {
    "multithreading": "the generated class runs its tasks on the thread pool given to "
                      "set_thread_pool() (aotc --threads sets the task slots)",
    **{flag: "it does not apply to aot_compile_cpu" for flag in (
        "all", "list_ops", "inputs", "input_exprs", "input_examples", "outdir", "overwrite",
        "tf_debug", "worker", "init_tpu", "use_tfrt", "op_denylist", "output_dir",
        "max_workspace_size_bytes", "precision_mode", "minimum_segment_size",
        "convert_tf1_model", "signature_def")},
}

_MAKEFILE = """\
# Written by aotc aot_compile_cpu (saved_model_cli's variables): the header and the
# runtime header are in {dir}; the object needs no library.
INC = -I{dir}
LIB = -L{dir}
CXXFLAGS =
"""


def add_saved_model_arguments(parser) -> None:
    """The SavedModel options of `aotc compile` (saved_model_cli's spellings)."""
    group = parser.add_argument_group(
        "SavedModel (when GRAPH is a SavedModel directory; no CONFIG)")
    group.add_argument("--signature_def_key", default="",
                       help="the signature to compile (default: serving_default)")
    group.add_argument("--tag_set", default="",
                       help="comma-separated tags of the MetaGraph (default: serve)")
    group.add_argument("--variables_to_feed", default="",
                       help="variables that stay arguments: comma-separated variable node "
                       "names, or 'all'; the others are compiled in as constants")
    group.add_argument("--checkpoint_path", default="",
                       help="checkpoint prefix to read the variables from (default: "
                       "DIR/variables/variables)")


def add_parser(subparsers) -> None:
    """Register `aot_compile_cpu`."""
    p = subparsers.add_parser(
        "aot_compile_cpu",
        help="compile a SavedModel signature as saved_model_cli aot_compile_cpu does",
        description="saved_model_cli's aot_compile_cpu, without TensorFlow: compile one "
        "signature of a SavedModel into <prefix>.h and <prefix>.o (plus the _metadata.o, "
        "_constants.o and _makefile.inc files it writes), with its names. saved_model_cli's "
        "flags for its other commands (and --multithreading) are accepted, with a note.")
    p.add_argument("--dir", required=True, help="the SavedModel directory")
    p.add_argument("--tag_set", default="serve", help="tags of the MetaGraph (default: serve)")
    p.add_argument("--signature_def_key", default="serving_default",
                   help="the signature to compile (default: serving_default)")
    p.add_argument("--output_prefix", required=True,
                   help="directory + file name prefix of the outputs, e.g. out/model")
    p.add_argument("--cpp_class", required=True, help="the generated C++ class, e.g. ns::Model")
    p.add_argument("--checkpoint_path", default="",
                   help="checkpoint prefix (default: DIR/variables/variables)")
    p.add_argument("--variables_to_feed", default="",
                   help="'' (freeze all), 'all', or comma-separated variable node names "
                   "that stay arguments (param_<name>)")
    p.add_argument("--target_triple", default="", help="LLVM target triple (default: host)")
    p.add_argument("--target_cpu", default="", help="LLVM CPU name (default: host)")
    for flag in IGNORED_FLAGS:
        # absl flags: string flags take a value; booleans also come bare.
        p.add_argument(f"--{flag}", dest=f"ignored_{flag}", nargs="?", const="true",
                       default=None, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Compile as `saved_model_cli aot_compile_cpu` would; returns the exit status."""
    from .compiler import compile as compile_model

    for flag, why in IGNORED_FLAGS.items():
        value = getattr(args, f"ignored_{flag}")
        if value is not None and not (flag == "multithreading"
                                      and value.lower() in ("f", "false", "0")):
            print(f"aotc: note: --{flag} has no effect: {why}", file=sys.stderr)
    prefix = args.output_prefix
    entry_point = re.sub("[^0-9a-zA-Z]+", "_", f"__xla_{prefix}__{args.cpp_class}")
    artifact = compile_model(
        args.dir, None,
        cpp_class=args.cpp_class, entry_point=entry_point,
        out_header=f"{prefix}.h", out_function_object=f"{prefix}.o",
        out_metadata_object=f"{prefix}_metadata.o",
        out_constant_buffers_object=f"{prefix}_constants.o",
        gen_name_to_index=True, gen_program_shape=False,
        target_triple=args.target_triple, target_cpu=args.target_cpu,
        signature_def_key=args.signature_def_key, tag_set=args.tag_set,
        variables_to_feed=args.variables_to_feed, checkpoint_path=args.checkpoint_path,
        saved_model_cli_names=True)
    makefile = f"{prefix}_makefile.inc"
    with open(makefile, "w") as f:
        f.write(_MAKEFILE.format(dir=os.path.abspath(artifact.out_dir)))
    print(f"aotc: wrote {', '.join(sorted(artifact.files))} to {artifact.out_dir}, "
          f"and {makefile}")
    return 0
