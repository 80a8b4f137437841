"""aotc: an ahead-of-time compiler for TensorFlow graphs.

    import aotc
    artifact = aotc.compile("graph.pb", "config.pbtxt", out_dir="out", cpp_class="ns::Model")
    artifact = aotc.compile("saved_model_dir", out_dir="out", signature_def_key="serving_default")
    artifact = aotc.compile("module.hlo", out_dir="out")   # XLA HLO text
    model = aotc.load("out")
    y = model(x)                 # NumPy in, NumPy out; arguments by position or feed name

The pipeline is imported on first use, so `import aotc.hlo` (or the loader alone) does not
pull in LLVM or the frontend.
"""

__version__ = "0.1.0"


def compile(graph, config=None, out_dir=None, **options):  # noqa: A001 - mirrors the CLI verb
    """Compile `graph` (path, bytes or GraphDef) for `config` (path, bytes or Config), or a
    SavedModel directory or `.hlo` file (no `config`), and write the artifact into `out_dir`; options are those of `aotc.options.CompileOptions`
    (the CLI's flags, e.g. cpp_class="ns::Model", target_triple=..., shared=True).
    Returns the written `aotc.artifact.Artifact`; its `.load()` gives a callable model."""
    from .compiler import compile as _compile

    return _compile(graph, config, out_dir, **options)


def load(path, threads: int = 1):
    """Load a compiled artifact directory (or its .json) as a callable model; `threads`
    > 1 runs its kernels' tasks on a pool of that many threads."""
    from aotc.runtime.loader import load as _load

    return _load(path, threads=threads)


__all__ = ["compile", "load", "__version__"]
