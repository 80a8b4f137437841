"""The model zoo with --backend cuda: every model compiles, its PTX is accepted by ptxas
for sm_75 (the default --gpu_arch) and every newer architecture up to sm_90, and its
kernels, run by the host grid runner (the GPU's kernel bodies with the grid emulated on
the CPU), match TensorFlow."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflow as tf  # noqa: F401  (a test dependency: missing, the suite must fail, not skip)

from aotc.backends.cuda.ptx import GPU_ARCHS
from aotc.compiler import compile_graph
from aotc.options import CompileOptions
from cuda_modules import grid_compiled
from models import TEXT_VOCAB, model_zoo
from cuda_machine import ptxas

#: Like the CPU model tests: f32 models whose sums run in another order than TensorFlow's.
TOLERANCE = dict(rtol=1e-4, atol=1e-5)


def zoo_inputs(frozen, seed: int = 0) -> list[np.ndarray]:
    """Random inputs; integer inputs are token ids of the embedding model's vocabulary."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, TEXT_VOCAB, shape).astype(dtype) if np.issubdtype(dtype, np.integer)
            else rng.standard_normal(shape).astype(dtype) for _, dtype, shape in frozen.feeds]


@pytest.fixture(scope="module", params=sorted(model_zoo()))
def compiled(request, tmp_path_factory):
    frozen = model_zoo(batch=2)[request.param]()
    graph, config = frozen.write(tmp_path_factory.mktemp(request.param))
    options = CompileOptions.from_kwargs(backend="cuda", name=request.param,
                                         cpp_class=f"zoo::M{request.param.replace('_', '')}")
    return frozen, compile_graph(str(graph), str(config), options)


def test_ptx_compiles_for_every_architecture(compiled, tmp_path):
    _, compilation = compiled
    ptx = compilation.output.files[f"{compilation.program.name}.ptx"].decode()
    for arch in GPU_ARCHS:
        ptxas(ptx, arch, tmp_path)


def test_kernels_match_tensorflow_on_the_host_grid(compiled):
    frozen, compilation = compiled
    inputs = zoo_inputs(frozen)
    got = grid_compiled(compilation.module)(*inputs)
    expected = frozen.reference(*inputs)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, **TOLERANCE)
