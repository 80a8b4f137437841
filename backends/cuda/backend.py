"""The CUDA backend behind the backend contract: PTX kernels for `--gpu_arch` embedded in
a host object that drives them through the CUDA driver API, loaded at run time."""

from __future__ import annotations

from aotc.backends.cpu.target import emit_data_object, resolve_target

from ..base import Backend, BackendFlag, BackendOptionError, BackendResult
from ..registry import register_backend
from .ptx import GPU_ARCHS, TRIPLE

# The code generator (compiler, launch_plan, row_fusion: the NVPTX emitters) is imported
# by the methods that use it: every `aotc compile` registers this class for its flags,
# and a CPU compile should not load the CUDA emitters.

__all__ = ["CudaBackend"]


@register_backend
class CudaBackend(Backend):
    """`--backend cuda [--gpu_arch sm_XX]`: kernels as PTX for the GPU architecture, the
    host code for `--target_triple` (the host by default)."""

    name = "cuda"
    flags = (BackendFlag("gpu_arch", "the NVIDIA GPU architecture the PTX targets (the "
                         "oldest it runs on; the driver compiles it for newer GPUs)",
                         default="sm_75", choices=GPU_ARCHS),)

    def __init__(self, options):
        super().__init__(options)
        self.gpu_arch = options.backend_flag("gpu_arch")
        if self.gpu_arch not in GPU_ARCHS:
            raise BackendOptionError(f"--gpu_arch {self.gpu_arch!r}: expected one of "
                                     f"{', '.join(GPU_ARCHS)}")
        try:
            self.host = resolve_target(options.target_triple or None, options.target_cpu or None,
                                       options.target_features or None)
        except RuntimeError as e:
            raise BackendOptionError(f"--target_triple {options.target_triple!r}: {e}") from None

    def hlo_passes(self) -> list:
        """A softmax or layer-norm row becomes one fusion, so one kernel (row_fusion.py)."""
        from .row_fusion import RowFusion

        return [RowFusion()]

    def compile(self, module, assignment) -> BackendResult:
        from .compiler import compile_cuda_module
        from .launch_plan import launches

        entry = self.options.entry_point
        code = compile_cuda_module(module, assignment, entry_symbol=entry,
                                   gpu_arch=self.gpu_arch, target=self.host)
        name = self.options.name
        info = {
            "gpu_arch": self.gpu_arch,
            "ptx_version": code.kernels.ptx_version,
            "host_triple": self.host.triple,
            "kernels": str(len({launch.kernel for launch in launches(code.kernels.plan)})),
            "device_arena_bytes": str(code.device_arena_bytes),
            "init_symbol": f"{entry}_init",
            "error_symbol": f"{entry}_error",
            "release_symbol": f"{entry}_release",
            "device_entry_symbol": f"{entry}_device",
        }
        return BackendResult(files={f"{name}.o": code.object_code, f"{name}.ptx": code.ptx.encode()},
                             target=f"{TRIPLE} {self.gpu_arch}", constant_bytes=code.kernels.constant_bytes,
                             scratch_bytes=code.session_bytes, info=info, stages=code.stages)

    def data_object(self, symbol: str, data: bytes) -> bytes:
        return emit_data_object(self.host, symbol, data)
