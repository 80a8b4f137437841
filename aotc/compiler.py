"""The pipeline: graph and Config (or a SavedModel, or HLO text) in, artifact out.

Each stage takes the previous stage's product and returns its own:

    GraphDef + Config --prune--> Subgraph --lower--> HLO Module --passes--> optimized Module
      --assign_buffers--> BufferAssignment --backend--> files + Program --> artifact

SavedModels and HLO text enter as HLO modules too (aotc/importers.py).

The backend is looked up by name in aotc.backends.registry; this module imports none.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from aotc.backends.base import Backend, BackendResult
from aotc.backends.registry import get_backend
from aotc.hlo import Module
from aotc.passes.buffer_assignment import BufferAssignment, assign_buffers
from aotc.passes.dump import dump_text
from aotc.passes.late_pipeline import layout_and_schedule_pipeline
from aotc.passes.pipeline import Pipeline, default_pipeline
from aotc.runtime.program import BUFFER_ALIGNMENT, Program, TensorSpec, VariableSpec

from . import progress as progress_mod
from .artifact import Artifact, OutputRequests, write_artifact
from .importers import import_model
from .report import compilation_report
from .errors import ArtifactError
from .names import is_c_identifier
from .options import CompileOptions


@dataclass
class Compilation:
    """Everything the pipeline produced, for tests and `--report`-style tools."""

    module: Module
    assignment: BufferAssignment
    program: Program
    output: BackendResult
    options: CompileOptions  # resolved
    backend: Backend
    #: Wall seconds per stage (aotc.progress.STAGES); `compile` adds "writing".
    stage_seconds: dict = field(default_factory=dict)

    @property
    def object_code(self) -> bytes:
        """The linkable object (`<name>.o`)."""
        return self.output.files[f"{self.program.name}.o"]


def compile_graph(graph, config, options: CompileOptions) -> Compilation:
    """Run the pipeline up to (not including) writing files.

    `graph` and `config` are paths, bytes or parsed protos (see aotc.frontend.graph); or
    `graph` is a SavedModel directory or an `.hlo` text file and `config` is None.
    `options` are resolved here unless they already are.
    """
    progress = progress_mod.active()
    if progress is None:  # called directly, not from `compile`: time the stages all the same
        progress = progress_mod.Progress()
        with progress_mod.tracking(progress):
            compilation = _compile_graph(graph, config, options, progress)
    else:
        compilation = _compile_graph(graph, config, options, progress)
    compilation.stage_seconds = progress.stage_seconds
    return compilation


def _compile_graph(graph, config, options: CompileOptions, progress) -> Compilation:
    graph_path = graph if isinstance(graph, (str, os.PathLike)) else None
    options = options.resolve(os.fspath(graph_path).rstrip("/\\") if graph_path else None)
    backend = get_backend(options.backend)(options)
    with progress.stage("import"):
        imported = import_model(graph, config, options)
    module = imported.module
    # Optimize (the shared passes, then the backend's own), then choose layouts and the
    # schedule that buffer assignment packs by. The pipeline verifies the imported module
    # before its first pass and the result after its last. One pipeline, so that --dump-hlo
    # numbers its files in one sequence; each stage times itself.
    # The ABI is the imported module's signature: passes may change how values are held
    # (complex values become (real, imaginary) pairs of floats, the same bytes).
    result_types = [(p.shape.element_type, p.shape.dims) for p in module.entry.root.operands]
    program_shape = _program_shape(module)
    stages = [default_pipeline().timed("optimize")]
    if backend.hlo_passes():
        stages.append(Pipeline(f"{backend.name}-passes", backend.hlo_passes()).timed("optimize"))
    stages.append(layout_and_schedule_pipeline().timed("layout+schedule"))
    Pipeline("compile", stages, dump_dir=options.dump_hlo or None).run(module)
    with progress.stage("buffers"):
        assignment = assign_buffers(module, scratch=backend.scratch_bytes)
    if options.dump_hlo:
        dump_text(options.dump_hlo, "buffer-assignment.txt", assignment.report())

    # The backend times its own stages (codegen, LLVM optimization, object emission).
    output = backend.compile(module, assignment)
    if options.dump_hlo:
        for stage, text in output.stages.items():
            dump_text(options.dump_hlo, f"{backend.name}-{stage}.txt", text)
    args = [TensorSpec(name, node, _numpy_name(dtype), shape)
            for name, node, dtype, shape in imported.args]
    results = [
        TensorSpec(name, node, _numpy_name(element_type.np_dtype), dims)
        for (name, node), (element_type, dims) in zip(imported.results, result_types)
    ]
    variables = _variable_specs(imported.variables, args, results)
    temp_bytes = assignment.temp_bytes
    if output.scratch_bytes:
        temp_bytes = _align(temp_bytes) + output.scratch_bytes
    program = Program(
        name=options.name,
        cpp_class=options.cpp_class,
        entry_symbol=options.entry_point,
        args=args,
        results=results,
        variables=variables,
        temp_bytes=temp_bytes,
        constant_bytes=output.constant_bytes,
        target=output.target,
        backend=backend.name,
        backend_info=dict(output.info),
        program_shape=program_shape,
        gen_name_to_index=options.gen_name_to_index,
        gen_program_shape=options.gen_program_shape,
    )
    return Compilation(module, assignment, program, output, options, backend)


def compile(graph, config=None, out_dir=None, **options) -> Artifact:  # noqa: A001 - public name
    """Compile `graph` with `config` and write the artifact; see `CompileOptions`. A
    SavedModel directory or an `.hlo` file takes no `config`:
    `aotc.compile("saved_model/", out_dir="out", cpp_class="ns::Model")`.

    Returns the written `Artifact` (its `.load()` gives a callable model).
    """
    if out_dir is not None:
        options["out_dir"] = str(out_dir)
    opts = CompileOptions.from_kwargs(**options)
    progress = progress_mod.Progress.for_terminal(quiet=opts.quiet)
    with progress_mod.tracking(progress):
        result = compile_graph(graph, config, opts)
        with progress.stage("writing"):
            artifact = _write(result)
    if result.options.report:
        print(compilation_report(result).format())
    return artifact


def _write(result: Compilation) -> Artifact:
    opts = result.options
    requests = OutputRequests(header=opts.out_header, function_object=opts.out_function_object,
                              metadata_object=opts.out_metadata_object,
                              constant_buffers_object=opts.out_constant_buffers_object)
    try:
        return write_artifact(
            result.program,
            opts.out_dir,
            result.output.files,
            gen_test=opts.gen_test,
            gen_benchmark=opts.gen_benchmark,
            shared=opts.shared,
            requests=requests,
            data_object=result.backend.data_object,
        )
    except (ValueError, RuntimeError) as e:
        # The writer validates names against the generated API (e.g. a fetch named after
        # a generated method) and links the optional shared library.
        raise ArtifactError(f"cannot write the artifact to {opts.out_dir}: {e}") from None


def _align(n: int) -> int:
    return -(-n // BUFFER_ALIGNMENT) * BUFFER_ALIGNMENT


def _variable_specs(infos, args: list[TensorSpec], results: list[TensorSpec]) -> list[VariableSpec]:
    """Append each Config variable to `args` (and, unless readonly, to `results`, where
    lowering put its final value); return their VariableSpecs, in Config order.

    Accessors are named after the variable only when its name is a C identifier (the
    Config's name defaults to the node name, which may contain '/')."""
    specs = []
    for var in infos:
        name = var.name if is_c_identifier(var.name) else ""
        dtype, shape = _numpy_name(var.dtype), tuple(var.shape)
        spec = VariableSpec(name, var.node_name, dtype, shape, readonly=var.readonly,
                            arg_index=len(args))
        args.append(TensorSpec(name, var.node_name, dtype, shape))
        if not var.readonly:
            spec.result_index = len(results)
            results.append(TensorSpec("", var.node_name, dtype, shape))
        specs.append(spec)
    return specs


def _numpy_name(dtype) -> str:
    import numpy as np

    return np.dtype(dtype).name


def _program_shape(module: Module) -> str:
    params = ", ".join(p.shape.short() for p in module.entry.parameters)
    results = ", ".join(r.shape.short() for r in module.entry.root.operands)
    return f"({params}) -> ({results})"
