"""A few models of the zoo at batch 1, compiled once per session for the hostile-environment
tests (test_sanitizers.py, test_concurrency.py), and tests/zoo_harness.cc built for each
with AddressSanitizer and UndefinedBehaviorSanitizer.

The models come from the model tests (one of each kind: convolutions and pooling, a
While loop over TensorLists, attention with Einsum and layer norms, a gather of int32
ids) with their seeds and tolerances. Each is compiled in-process with `--threads 4`, so
the code has parallel tasks with per-task scratch slots for the thread pool to run.
"""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

import aotc
from aotc.runtime.program import Program
from conftest import ROOT, build_cpp
from models import FrozenModel, freeze_keras

SANITIZE = ("-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all")
# LeakSanitizer needs ptrace, which containers often forbid; leaks are not what we look for.
SANITIZER_ENV = {"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0:halt_on_error=1",
                 "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
THREADS = 4


@dataclass
class ZooModel:
    """A compiled model with inputs, TensorFlow's outputs and the test's tolerances."""

    name: str
    frozen: FrozenModel
    out: Path  # the artifact directory
    inputs: list[np.ndarray]
    expected: list[np.ndarray]  # TensorFlow's
    tolerance: dict
    harness: Path | None = None  # zoo_harness.cc built for it, with the sanitizers

    def write_inputs(self, directory: Path) -> list[Path]:
        paths = []
        for i, x in enumerate(self.inputs):
            path = directory / f"{self.name}_arg{i}.bin"
            path.write_bytes(np.ascontiguousarray(x).tobytes())
            paths.append(path)
        return paths

    def read_results(self, directory: Path) -> list[np.ndarray]:
        program = aotc.load(self.out).program
        return [np.fromfile(directory / f"result{i}.bin", dtype=r.numpy_dtype).reshape(r.shape)
                for i, r in enumerate(program.results)]


def _lenet():
    import tensorflow as tf
    from test_models_cnn import PROBABILITIES, lenet

    tf.keras.utils.set_random_seed(11)
    return freeze_keras(lenet(), [(1, 28, 28, 1)]), None, PROBABILITIES


def _lstm():
    from test_models_rnn import ATOL, RTOL, keras_rnn

    return keras_rnn("lstm", 1, False), None, dict(rtol=RTOL, atol=ATOL)


def _transformer():
    from test_models_transformer import SEQUENCE, TOLERANCE, WIDTH, encoder_block

    return freeze_keras(encoder_block(), [(1, SEQUENCE, WIDTH)]), None, TOLERANCE


def _text():
    from test_models_text import PROBABILITIES, SEQUENCE, text_classifier, token_ids

    frozen = freeze_keras(text_classifier(), [(1, SEQUENCE)], dtype="int32")
    return frozen, [token_ids(1, seed=1)], PROBABILITIES


BUILDERS: dict[str, Callable] = {"lenet": _lenet, "lstm": _lstm, "transformer": _transformer,
                                 "text": _text}


def compile_zoo(workdir: Path) -> dict[str, ZooModel]:
    """Freeze, compile (in-process) and run with TensorFlow every model of BUILDERS."""
    zoo = {}
    for name, build in BUILDERS.items():
        frozen, inputs, tolerance = build()
        graph, config = frozen.write(workdir / name)
        out = workdir / name / "out"
        cpp_class = f"zoo::{name.capitalize()}"
        aotc.compile(str(graph), str(config), out, cpp_class=cpp_class, name=name,
                     threads=THREADS)
        inputs = inputs if inputs is not None else frozen.random_inputs(seed=3)
        zoo[name] = ZooModel(name, frozen, out, inputs, frozen.reference(*inputs), tolerance)
    return zoo


def build_harness(out: Path, name: str, workdir: Path) -> Path:
    """tests/zoo_harness.cc built with the sanitizers for the artifact `out`/`name`."""
    program = Program.from_json((out / f"{name}.json").read_text())
    flags = (*SANITIZE, f'-DAOTC_HEADER="{name}.h"', f"-DAOTC_CLASS={program.cpp_class}",
             f"-DAOTC_ENTRY={program.entry_symbol}")
    return build_cpp([ROOT / "tests/zoo_harness.cc"], workdir / f"{name}_harness",
                     include=[out], objects=[out / f"{name}.o"], flags=flags)


def build_harnesses(zoo: dict[str, ZooModel], workdir: Path) -> None:
    """Build the sanitized harness of every model, two at a time."""
    with ThreadPoolExecutor(2) as pool:
        exes = pool.map(lambda m: build_harness(m.out, m.name, workdir), zoo.values())
        for model, exe in zip(zoo.values(), exes):
            model.harness = exe


def run_harness(model: ZooModel, directory: Path, *mode_args) -> str:
    """Run the model's sanitized harness in `directory` on its inputs; returns stdout."""
    directory.mkdir(parents=True, exist_ok=True)
    proc = harness_process(model.harness, *mode_args, *model.write_inputs(directory), directory)
    assert proc.returncode == 0, f"{proc.args} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def harness_process(harness: Path, *args, env=None) -> subprocess.CompletedProcess:
    """Run a sanitized harness with the sanitizers' options (and `env`)."""
    return subprocess.run([str(harness), *map(str, args)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **SANITIZER_ENV, **(env or {})})
