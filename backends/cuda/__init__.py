"""aotc: backends/cuda. NVPTX kernels (kernels.py, through the hooks of hooks.py), PTX for
--gpu_arch (ptx.py), the host driver that loads and launches them (host_driver.py), the
backend class (backend.py), and the host grid runner that checks the kernels on the CPU
(grid_runner.py)."""

from .backend import CudaBackend
from .kernels import GpuKernels, compile_kernels

__all__ = ["CudaBackend", "GpuKernels", "compile_kernels"]
