"""tools/gpu_check.sh against artifacts from tools/prepare_gpu_check.py. On a machine with
a GPU: the whole model zoo runs on it and matches TensorFlow. Without one: the MLP's
runner builds and reports the missing driver, and the summary counts it as failed."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT
from cuda_machine import gpu_available


def test_gpu_check(tmp_path):
    gpu = gpu_available()
    out = tmp_path / "gpu_check"
    models = [] if gpu else ["--models", "mlp"]
    subprocess.run([sys.executable, str(ROOT / "tools/prepare_gpu_check.py"), "--out", str(out),
                    *models], check=True, capture_output=True)
    done = subprocess.run(["sh", str(ROOT / "tools/gpu_check.sh"), str(out)], capture_output=True,
                          text=True, timeout=600)
    print(done.stdout)  # the record of a GPU run
    if gpu:
        assert done.returncode == 0 and "gpu_check: 8 passed, 0 failed" in done.stdout, done.stdout
        return
    assert done.returncode == 1, done.stdout + done.stderr
    assert "mlp FAIL Run(): " in done.stdout, done.stdout
    assert "no CUDA driver" in done.stdout or "cuInit failed" in done.stdout, done.stdout
    assert "gpu_check: 0 passed, 1 failed" in done.stdout
