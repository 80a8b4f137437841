"""The CUDA backend's PTX is accepted by ptxas: for every opcode, every kernel shape and
every fusion kind, the PTX for --gpu_arch sm_75 (the default) compiles for sm_75 and every
newer architecture up to sm_90, and the PTX for each newer --gpu_arch compiles for that
architecture and the newer ones. The PTX declares the lowest ISA version the
architecture needs."""

from __future__ import annotations

import pytest

from aotc.backends.cuda import compile_kernels
from aotc.backends.cuda.ptx import GPU_ARCHS, GpuArchError, ptx_isa
from aotc.hlo.parser import parse_module
from aotc.passes.buffer_assignment import assign_buffers
from aotc.passes.late_pipeline import layout_and_schedule_pipeline
from aotc.passes.pipeline import default_pipeline

from cuda_modules import FUSED, elementwise_module, flat_results, kernels_module
from every_opcode import every_opcode_module
from cuda_machine import PTXAS, ptxas

def _fused():
    module = parse_module(FUSED)
    default_pipeline().run(module)
    layout_and_schedule_pipeline().run(module)
    return module


MODULES = {
    "every_opcode": lambda: flat_results(every_opcode_module(complex_ops=False)),
    "kernels": lambda: flat_results(kernels_module()),
    "fused": _fused,
    "elementwise_f32": lambda: elementwise_module("f32", [3, 70]),
    "elementwise_f64": lambda: elementwise_module("f64", [3, 70]),
    "elementwise_s64": lambda: elementwise_module("s64", [3, 70]),
}


@pytest.fixture(scope="module", params=sorted(MODULES))
def default_ptx(request):
    module = MODULES[request.param]()
    return compile_kernels(module, assign_buffers(module))


def test_ptx_for_sm75_compiles_for_every_newer_architecture(default_ptx, tmp_path):
    assert default_ptx.gpu_arch == "sm_75" and default_ptx.ptx_version == "6.3"
    assert ".target sm_75" in default_ptx.ptx
    for arch in GPU_ARCHS:
        ptxas(default_ptx.ptx, arch, tmp_path)


@pytest.mark.parametrize("gpu_arch", GPU_ARCHS[1:])
def test_ptx_for_each_architecture_compiles_for_it_and_newer(gpu_arch, tmp_path):
    module = MODULES["fused"]()
    kernels = compile_kernels(module, assign_buffers(module), gpu_arch)
    isa = ptx_isa(gpu_arch)
    assert kernels.ptx_version == f"{isa // 10}.{isa % 10}"
    assert f".target {gpu_arch}" in kernels.ptx
    for arch in GPU_ARCHS[GPU_ARCHS.index(gpu_arch):]:
        ptxas(kernels.ptx, arch, tmp_path)


def test_unknown_architecture_is_an_error_naming_the_flag():
    with pytest.raises(GpuArchError, match="--gpu_arch.*sm_61"):
        ptx_isa("sm_61")


def test_ptxas_is_available():
    """The checks above need ptxas (`.ci/run` installs the nvidia-cuda-nvcc wheel)."""
    assert PTXAS is not None
