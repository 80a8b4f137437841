"""The model inputs aotc compiles, each turned into an HLO module and its signature.

    GraphDef + Config       prune, lower (frontend/prune.py, frontend/lower.py)
    SavedModel directory    a signature as GraphDef + Config (frontend/saved_model.py),
                            then as above, frozen variables lowered as their saved values
    HLO text                parsed (frontend/hlo_import.py): parameters in, root tuple out

`import_model` picks the importer from the input: a directory is a SavedModel, a file
named `*.hlo` or starting with `HloModule ` is HLO text, anything else a GraphDef (which
needs a Config). The SavedModel
options (`--signature_def_key`, `--tag_set`, `--variables_to_feed`, `--checkpoint_path`)
apply to SavedModels only, and giving one for another input is an error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from aotc.frontend.graph import to_config, to_graph_def
from aotc.frontend.lower import lower
from aotc.frontend.prune import Subgraph, prune
from aotc.hlo import Module

from .options import CompileOptions, OptionError

__all__ = ["Imported", "import_model", "is_config_free", "SAVED_MODEL_OPTIONS"]

#: CompileOptions fields that apply to SavedModel inputs only.
SAVED_MODEL_OPTIONS = ("signature_def_key", "tag_set", "variables_to_feed", "checkpoint_path",
                       "saved_model_cli_names")

HLO_SUFFIX = ".hlo"
HLO_HEADER = b"HloModule "
HLO_SNIFF_BYTES = 4096


@dataclass
class Imported:
    """An input as the pipeline compiles it.

    `module`'s entry takes `args` then the variables' values, and returns a tuple of the
    results (`results`: (name, what it is in the input) per result) followed by the final
    values of the variables that are not readonly. `variables` are the frontend's
    VariableInfos of the variables that stay arguments.
    """

    module: Module
    args: list[tuple[str, str, object, tuple[int, ...]]]  # name, source, dtype, shape
    results: list[tuple[str, str]]  # name, source
    variables: list


def is_saved_model(path) -> bool:
    """True when `path` is a directory (SavedModels are directories). Here rather than
    from frontend/saved_model.py, which (like frontend/hlo_import.py and the HLO text
    parser) is imported only for such an input: a GraphDef compile never loads them."""
    return isinstance(path, (str, os.PathLike)) and os.path.isdir(path)


def is_config_free(graph) -> bool:
    """Whether `graph` is an input that takes no Config (a SavedModel or HLO text)."""
    return is_saved_model(graph) or _is_hlo(graph)


def import_model(graph, config, options: CompileOptions) -> Imported:
    """Import `graph` (and `config`, for a GraphDef) as `options` say."""
    given = [f"--{name}" for name in SAVED_MODEL_OPTIONS if getattr(options, name)]
    if is_config_free(graph):
        if config is not None:
            kind = "a SavedModel" if is_saved_model(graph) else "HLO text"
            raise OptionError(f"{os.fspath(graph)} is {kind}, which takes no Config (its "
                              "signature gives the arguments and results); drop CONFIG")
        if is_saved_model(graph):
            return _saved_model(graph, options)
    if given:
        raise OptionError(f"{', '.join(given)} appl{'ies' if len(given) == 1 else 'y'} to "
                          "SavedModel directories only")
    if _is_hlo(graph):
        return _hlo_text(graph, options)
    if config is None:
        raise OptionError("no Config: pass CONFIG (after GRAPH) or --config=FILE; a "
                          "SavedModel directory or an .hlo file needs none")
    subgraph = prune(to_graph_def(graph), to_config(config))
    return _from_subgraph(subgraph, lower(subgraph, name=options.name), subgraph.variables)


def _is_hlo(graph) -> bool:
    """A path named `*.hlo`, or a file whose text starts with XLA's `HloModule` header
    (JAX's and TF's dumps are often saved as .txt)."""
    if not isinstance(graph, (str, os.PathLike)):
        return False
    if os.fspath(graph).endswith(HLO_SUFFIX):
        return True
    try:
        with open(graph, "rb") as f:
            head = f.read(HLO_SNIFF_BYTES)
    except OSError:
        return False  # the GraphDef reader reports the unreadable path
    return head.lstrip().startswith(HLO_HEADER)


def _from_subgraph(subgraph: Subgraph, module: Module, variables) -> Imported:
    args = [(f.name, _tensor_name(f.tensor), f.dtype, tuple(f.shape)) for f in subgraph.feeds]
    results = [(f.name, _tensor_name(f.tensor)) for f in subgraph.fetches]
    return Imported(module, args, results, list(variables))


def _saved_model(directory, options: CompileOptions) -> Imported:
    from aotc.frontend.saved_model import load_saved_model

    imported = load_saved_model(
        directory,
        signature_def_key=options.signature_def_key or "serving_default",
        tag_set=options.tag_set or "serve",
        variables_to_feed=options.variables_to_feed,
        checkpoint_path=options.checkpoint_path or None,
        naming="saved_model_cli" if options.saved_model_cli_names else "signature")
    subgraph = prune(imported.graph, imported.config)
    module = lower(subgraph, name=options.name, frozen=imported.frozen)
    fed = [v for v in subgraph.variables if v.node_name not in imported.frozen]
    return _from_subgraph(subgraph, module, fed)


def _hlo_text(path, options: CompileOptions) -> Imported:
    from aotc.frontend.hlo_import import load_hlo_module

    fn = load_hlo_module(path)
    fn.module.name = options.name
    args = [(a.name, a.label, a.dtype, a.shape) for a in fn.args]
    return Imported(fn.module, args, [(r.name, r.label) for r in fn.results], [])


def _tensor_name(tensor) -> str:
    return tensor.node_name if tensor.output_index == 0 else str(tensor)
