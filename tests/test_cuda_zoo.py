"""The model zoo with --backend cuda: every model compiles, its PTX is accepted by ptxas
for sm_75 (the default --gpu_arch) and every newer architecture up to sm_90, and its
kernels, run by the host grid runner (the GPU's kernel bodies with the grid emulated on
the CPU), match TensorFlow."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflow as tf  # noqa: F401  (a test dependency: missing, the suite must fail, not skip)

from aotc.backends.cuda.ptx import GPU_ARCHS
from aotc.backends.cuda.row_fusion import row_group_reduces, row_reduce_of
from aotc.passes.fusion_analysis import fused_computation
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


#: Row groups (one kernel each) of the models with softmax or layer-norm rows: the MLP's
#: softmax(dense), LeNet's, MobileNetV2's and the embedding model's softmax; the
#: transformer's attention softmax and its two layer norms.
ROW_GROUPS = {"mlp": 1, "lenet": 1, "mobilenet_v2": 1, "embedding": 1, "transformer": 3}


def test_softmax_and_layer_norm_rows_are_one_kernel_each(compiled):
    frozen, compilation = compiled
    entry = compilation.module.entry
    groups = [i for i in entry.instructions
              if i.opcode == "fusion" and row_group_reduces(fused_computation(i)) is not None]
    assert len(groups) == ROW_GROUPS.get(compilation.program.name, 0)
    users = entry.users()
    # no row reduction left whose users are all loops a group could have taken
    assert not [i for i in entry.instructions if row_reduce_of(i) is not None
                and all(u.opcode == "fusion" and u.attrs["kind"] == "kLoop" for u in users[i])]
    if compilation.program.name == "mlp":  # two dense+relu, the last dot, the softmax row
        assert compilation.output.info["kernels"] == "4"
