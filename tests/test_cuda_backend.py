"""The CUDA backend's artifact on a machine without a GPU: the files and metadata, the
host object's undefined symbols, a C++ program built against the header (-Wall -Wextra
-Werror) whose Run() reports the missing driver (and, with a stand-in libcuda.so.1, the
driver's own error string), aotc.load raising that error, and --gpu_arch handling."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

import aotc
from conftest import EXAMPLES, build_cpp, run_aotc
from cuda_machine import gpu_available

HERE = Path(__file__).resolve().parent
#: What the host object may leave undefined: the dynamic loader and libc.
ALLOWED_UNDEFINED = {"dlopen", "dlsym", "dlclose", "dlerror", "snprintf", "memcpy", "memset"}

#: On a GPU machine the same tests expect the model to run (and match the CPU backend).
GPU = gpu_available()

MAIN = r"""
#include <cstdio>
#include "mlp.h"
int main() {
  demo::Mlp model;
  model.arg0(0, 0) = 1.0f;
  if (model.Run()) {
    std::printf("ran %f\n", model.result0(0, 0));
    return 0;
  }
  std::printf("%s\n", model.error_msg().c_str());
  return model.RunOnDevice(nullptr, nullptr) ? 1 : 2;
}
"""


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    out = tmp_path_factory.mktemp("cuda") / "mlp"
    run_aotc("compile", EXAMPLES / "mlp/graph.pb", EXAMPLES / "mlp/config.pbtxt", "--backend",
             "cuda", "--cpp_class", "demo::Mlp", "-o", out, check=True)
    return out


@pytest.fixture(scope="module")
def program(artifact, tmp_path_factory):
    source = tmp_path_factory.mktemp("cuda_main") / "main.cc"
    source.write_text(MAIN)
    return build_cpp([source], source.with_suffix(""), include=[artifact],
                     objects=[artifact / "mlp.o"])


def test_artifact_files_and_metadata(artifact):
    names = {p.name for p in artifact.iterdir()}
    assert {"mlp.o", "mlp.h", "mlp.json", "mlp.ptx", "aotc_runtime.h"} <= names
    meta = json.loads((artifact / "mlp.json").read_text())
    assert meta["backend"] == "cuda"
    info = meta["backend_info"]
    assert info["gpu_arch"] == "sm_75" and info["ptx_version"] == "6.3"
    ptx = (artifact / "mlp.ptx").read_bytes()
    assert b".target sm_75" in ptx
    assert ptx in (artifact / "mlp.o").read_bytes()  # the same PTX is embedded
    assert int(info["kernels"]) == len(re.findall(rb"^\.visible \.entry", ptx, re.M)) > 0


def test_host_object_needs_only_the_dynamic_loader_and_libc(artifact):
    nm = subprocess.run(["nm", "-u", str(artifact / "mlp.o")], capture_output=True, text=True,
                        check=True)
    undefined = {line.split()[-1] for line in nm.stdout.splitlines() if line.strip()}
    assert undefined <= ALLOWED_UNDEFINED, undefined - ALLOWED_UNDEFINED
    assert {"dlopen", "dlsym"} <= undefined


def _run(program, **env):
    return subprocess.run([str(program)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})


def test_run_reports_the_missing_driver(program):
    done = _run(program)
    if GPU:
        assert done.returncode == 0 and done.stdout.startswith("ran"), done.stdout + done.stderr
        return
    assert done.returncode == 2, done.stdout + done.stderr
    assert ("no CUDA driver: cannot load libcuda.so.1" in done.stdout
            or "cuInit failed" in done.stdout), done.stdout


@pytest.mark.parametrize("stub, message", [
    ([], "cuInit failed: no CUDA-capable device is detected (error 100)"),
    (["-DSTUB_REACHES_MODULE_LOAD"],
     "cuModuleLoadData failed: no kernel image is available for execution on the device (error 209)"),
])
def test_run_passes_the_driver_error_through(program, tmp_path, stub, message):
    subprocess.run(["cc", "-shared", "-fPIC", *stub, "-o", str(tmp_path / "libcuda.so.1"),
                    str(HERE / "cuda_stub_driver.c")], check=True)
    done = _run(program, LD_LIBRARY_PATH=str(tmp_path))
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stdout, done.stdout


def test_load_raises_the_driver_error_or_runs(artifact, tmp_path):
    if not GPU:
        with pytest.raises(RuntimeError, match="mlp: (no CUDA driver|CUDA driver: cuInit)"):
            aotc.load(artifact)
        return
    cpu = tmp_path / "cpu"
    run_aotc("compile", EXAMPLES / "mlp/graph.pb", EXAMPLES / "mlp/config.pbtxt", "-o", cpu,
             check=True)
    x = np.random.default_rng(0).standard_normal((1, 8)).astype(np.float32)
    np.testing.assert_allclose(aotc.load(artifact)(x), aotc.load(cpu)(x), rtol=1e-5, atol=1e-6)


def test_gpu_arch_selects_the_ptx_target(tmp_path):
    out = tmp_path / "sm80"
    run_aotc("compile", EXAMPLES / "mlp/graph.pb", EXAMPLES / "mlp/config.pbtxt", "--backend",
             "cuda", "--gpu_arch", "sm_80", "-o", out, check=True)
    (json_path,) = out.glob("*.json")
    assert json.loads(json_path.read_text())["backend_info"]["gpu_arch"] == "sm_80"
    (ptx,) = out.glob("*.ptx")
    assert ".target sm_80" in ptx.read_text() and ".version 7.0" in ptx.read_text()


@pytest.mark.parametrize("flags, message", [
    (["--backend", "cuda", "--gpu_arch", "sm_61"], "--gpu_arch"),
    (["--gpu_arch", "sm_80"], "--gpu_arch"),  # a flag of another backend
])
def test_bad_gpu_arch_is_a_user_error(flags, message, tmp_path):
    done = run_aotc("compile", EXAMPLES / "mlp/graph.pb", EXAMPLES / "mlp/config.pbtxt", *flags,
                    "-o", tmp_path / "out")
    assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr
