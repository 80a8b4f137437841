"""The CUDA backend's kernels against the NumPy evaluator, without a GPU.

Every module is compiled by the host grid runner (backends/cuda/grid_runner.py): the very
kernel bodies that become PTX, emitted for the host triple with the grid, the barriers,
the warp shuffles and shared memory emulated (backends/cuda/hooks.py), so an indexing
or thread-mapping bug shows up here as a wrong number. Modules are batched (LLVM
compiles dominate the time): every opcode, every elementwise opcode per element type,
every kernel shape (cuda_modules.kernels_module), every fusion kind after the real
pipeline, and random fused modules.
"""

from __future__ import annotations

import numpy as np
import pytest

from aotc.hlo.evaluation import evaluate
from aotc.hlo.parser import parse_module
from aotc.passes.late_pipeline import layout_and_schedule_pipeline
from aotc.passes.pipeline import default_pipeline

from aotc.backends.cuda.kernel_emitter import vector_width
from aotc.backends.cuda.kernels import compile_kernels
from aotc.backends.cuda.launch_plan import launches
from aotc.backends.cuda.row_fusion import RowFusion, row_group_reduces
from aotc.passes.buffer_assignment import assign_buffers
from aotc.passes.fusion_analysis import fused_computation

from compiled import check_compiled
from cuda_machine import ptxas
from cuda_modules import (FUSED, VECTOR, elementwise_module, flat_results, grid_compiled,
                          kernels_module, random_args, row_groups_module)
from every_opcode import every_opcode_module
from fusion_fixtures import random_module

TOLERANCE = {"f16": (1e-2, 1e-2), "f32": (2e-6, 1e-6), "f64": (1e-13, 1e-14)}


def _compare(got, expected, rtol=2e-5, atol=2e-5):
    expected = list(expected) if isinstance(expected, tuple) else [expected]
    assert len(got) == len(expected)
    for k, (g, e) in enumerate(zip(got, expected)):
        e = np.asarray(e)
        assert g.shape == e.shape and g.dtype == e.dtype, k
        if not np.issubdtype(e.dtype, np.floating):
            np.testing.assert_array_equal(g, e, err_msg=f"result {k}")
            continue
        tolerance = (1e-2, 1e-2) if g.dtype == np.float16 else (rtol, atol)
        np.testing.assert_allclose(g.astype(np.float64), e.astype(np.float64), *tolerance,
                                   err_msg=f"result {k}", equal_nan=True)


def test_every_opcode_matches_the_evaluator():
    module = flat_results(every_opcode_module(complex_ops=False))
    rng = np.random.default_rng(3)
    args = [rng.uniform(-3, 3, (2, 3)).astype(np.float32),
            rng.uniform(-3, 3, (2, 3)).astype(np.float32),
            rng.integers(0, 5, (2, 3)).astype(np.int32)]
    check_compiled(module, args, rtol=1e-5, atol=1e-5, compiled=grid_compiled(module))


@pytest.mark.parametrize("dtype", ["f32", "f64", "s32", "u8"])
def test_every_elementwise_opcode_matches_the_evaluator(dtype):
    module = elementwise_module(dtype, [3, 70])  # 210 elements: a partly idle last block
    args = random_args(module)
    if dtype == "f32":  # special values in the first row (trigonometry is accurate
        # only for |x| < ~1e6, as on the CPU)
        special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e5, -1e-30, 88.0, 0.5, -2.5],
                           np.float32)
        for a in args[:2]:
            a[0, :special.size] = np.roll(special, int(a is args[1]))
    elif dtype in ("s32", "u8"):  # division by zero; shifts in and out of range
        args[1].flat[:5] = 0
        args[1].flat[5:8] = [3, 40, 7]
    rtol, atol = TOLERANCE.get(dtype, (0, 0))
    check_compiled(module, args, rtol=rtol, atol=atol, compiled=grid_compiled(module))


def test_every_kernel_shape_matches_the_evaluator():
    module = flat_results(kernels_module())
    check_compiled(module, random_args(module), rtol=2e-5, atol=2e-5,
                   compiled=grid_compiled(module))


def test_every_fusion_kind_matches_the_evaluator():
    module = parse_module(FUSED)
    args = random_args(module)
    expected = evaluate(module, *args)
    default_pipeline().run(module)
    layout_and_schedule_pipeline().run(module)
    kinds = [i.attrs["kind"] for i in module.entry.instructions if i.opcode == "fusion"]
    assert {"kLoop", "kInput", "kOutput"} <= set(kinds)
    _compare(grid_compiled(module)(*args), expected)


def test_random_fused_modules_match_the_evaluator():
    kinds = set()
    for seed in range(4):
        module, args = random_module(seed)
        expected = evaluate(module, *args)
        default_pipeline().run(module)
        layout_and_schedule_pipeline().run(module)
        kinds |= {i.attrs["kind"] for i in module.entry.instructions if i.opcode == "fusion"}
        _compare(grid_compiled(module)(*args), expected, rtol=5e-5, atol=5e-5)
    assert kinds == {"kLoop", "kInput", "kOutput"}


def test_softmax_and_layer_norm_rows_are_one_kernel_each(tmp_path):
    module = row_groups_module()
    args = random_args(module)
    expected = evaluate(module, *args)
    default_pipeline().run(module)
    assert RowFusion().run(module)
    layout_and_schedule_pipeline().run(module)
    fusions = [i for i in module.entry.instructions if i.opcode == "fusion"]
    groups = [f for f in fusions if row_group_reduces(fused_computation(f)) is not None]
    # the softmax of each of the 5 row sizes, the log-softmax, the layer norm, and the
    # softmax whose max is a result too (its sum and division: the max has its own kernel)
    assert len(groups) == 8
    reduces = [i for i in module.entry.instructions if i.opcode == "reduce"
               or i.opcode == "fusion" and i not in groups]
    assert len(reduces) == 1 and reduces[0].name == "m9"
    _compare(grid_compiled(module)(*args), expected, rtol=2e-6, atol=2e-6)
    gpu = compile_kernels(module, assign_buffers(module))
    assert len(launches(gpu.plan)) == 9  # the 8 rows and m9
    for arch in ("sm_75", "sm_90"):
        ptxas(gpu.ptx, arch, tmp_path)


def test_loop_kernels_use_vector_loads_with_scalar_fallback(tmp_path):
    """Loop fusions whose minor dimension is a multiple of 4 run 4 elements per thread
    (128-bit loads and stores for f32); others one element per thread."""
    module = parse_module(VECTOR)
    args = random_args(module)
    expected = evaluate(module, *args)
    default_pipeline().run(module)
    layout_and_schedule_pipeline().run(module)
    _compare(grid_compiled(module)(*args), expected, rtol=2e-6, atol=2e-6)
    widths = {i.shape.dims: vector_width(i.shape) for i in module.entry.instructions
              if i.opcode == "fusion" or i.is_elementwise}
    assert widths[(6, 36)] == 4 and widths[(3, 70)] == 1
    gpu = compile_kernels(module, assign_buffers(module))
    assert "ld.global.nc.v4.b32" in gpu.ptx and "st.global.v4.b32" in gpu.ptx
    for arch in ("sm_75", "sm_90"):
        ptxas(gpu.ptx, arch, tmp_path)
