"""What the machine offers the CUDA backend's tests: ptxas, the PTX assembler of the CUDA
toolkit (on PATH; `.ci/run` installs the nvidia-cuda-nvcc wheel where it is missing), run
on every PTX the tests produce; and whether a GPU with its driver is present, in which
case the tests run the artifacts on it too."""

from __future__ import annotations

import ctypes
import shutil
import subprocess

PTXAS = shutil.which("ptxas")


def ptxas(ptx: str, arch: str, tmp_path) -> None:
    """Compile `ptx` for `arch`; fail with ptxas's own message."""
    source = tmp_path / f"{arch}.ptx"
    source.write_text(ptx)
    done = subprocess.run([PTXAS, f"-arch={arch}", str(source), "-o", str(tmp_path / f"{arch}.cubin")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]


def gpu_available() -> bool:
    """Whether the CUDA driver loads and finds a GPU (as on a machine where nvidia-smi
    works)."""
    try:
        driver = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    return driver.cuInit(0) == 0
