"""ptxas, the PTX assembler of the CUDA toolkit (on PATH; `.ci/run` installs the
nvidia-cuda-nvcc wheel where it is missing): the CUDA backend's tests run it on every PTX
they produce."""

from __future__ import annotations

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
