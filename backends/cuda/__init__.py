"""aotc: backends/cuda. NVPTX kernels (kernels.py, through the hooks of hooks.py), PTX for
--gpu_arch (ptx.py), the host driver that loads and launches them (host_driver.py), the
backend class (backend.py), and the host grid runner that checks the kernels on the CPU
(grid_runner.py)."""

from .backend import CudaBackend


def __getattr__(name: str):
    """GpuKernels and compile_kernels load on first use (PEP 562): registering the
    backend (every `aotc compile`) needs only its class and flags."""
    if name in ("GpuKernels", "compile_kernels"):
        from . import kernels

        return getattr(kernels, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CudaBackend", "GpuKernels", "compile_kernels"]
