"""Shared fixtures: helpers that run the CLI and the C++ toolchain, and compiled artifacts
shared across tests (compiling is the slow part; each model is compiled once per session)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Verify after every pass, naming the pass that breaks a module (passes/pipeline.py).
os.environ.setdefault("AOTC_VERIFY_PASSES", "1")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run_aotc(*args, check=False) -> subprocess.CompletedProcess:
    """Run the `aotc` command line in a subprocess, as a user would."""
    proc = subprocess.run([sys.executable, "-m", "aotc", *map(str, args)],
                          capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"aotc {' '.join(map(str, args))} failed:\n{proc.stderr}")
    return proc


def build_cpp(sources, out, *, include=(), objects=(), flags=("-O1",)) -> Path:
    """Compile and link a C++ program with g++; fail the test with the compiler's output."""
    cmd = ["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", *flags,
           *[f"-I{d}" for d in include], *map(str, sources), *map(str, objects),
           "-pthread", "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"
    return Path(out)


def run_program(path, *args) -> str:
    proc = subprocess.run([str(path), *map(str, args)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{path} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="session")
def matmul_artifact(tmp_path_factory):
    """The tfcompile guide's example compiled with the CLI as foo::bar::MatMulComp."""
    out = tmp_path_factory.mktemp("matmul") / "out"
    run_aotc("compile", EXAMPLES / "matmul/graph.pbtxt", EXAMPLES / "matmul/config.pbtxt",
             "--cpp_class", "foo::bar::MatMulComp", "--name", "matmul", "-o", out, check=True)
    return out


@pytest.fixture(scope="session")
def zoo(tmp_path_factory):
    """A few models of the zoo at batch 1, compiled once, each with its sanitized
    tests/zoo_harness.cc (tests/zoo.py); for test_sanitizers.py and test_concurrency.py."""
    from zoo import build_harnesses, compile_zoo

    workdir = tmp_path_factory.mktemp("zoo")
    models = compile_zoo(workdir)
    build_harnesses(models, workdir)
    return models
