"""The zoo's generated code and headers under AddressSanitizer, UndefinedBehaviorSanitizer
and guard pages (tests/zoo.py, tests/zoo_harness.cc).

For each model (LeNet, an LSTM, a transformer block, an int32 text classifier; batch 1,
compiled with --threads 4), the harness built with -fsanitize=address,undefined calls the
C entry with every argument, result and the temp arena in a buffer of exactly its size
against a PROT_NONE page, on both sides, with and without a thread pool, and the C++ class
on guarded args. A read or write outside a buffer faults, a sanitizer report exits non-zero
(-fno-sanitize-recover), and a write into the alignment slack before the page is caught by
a canary. The results must be the same bytes in every run, the same bytes as the
unsanitized library loaded from Python, and match TensorFlow within the model test's
tolerance.

A hand-written entry with deliberate out-of-bounds accesses (chosen at run time) shows
that each kind of access is caught by the same harness.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

import aotc
from aotc.artifact import write_artifact
from aotc.runtime.program import Program, TensorSpec
from conftest import ROOT
from zoo import BUILDERS, build_harness, harness_process, run_harness



@pytest.mark.parametrize("name", list(BUILDERS))
def test_guarded_buffers_under_sanitizers(zoo, name, tmp_path):
    model = zoo[name]
    run_harness(model, tmp_path, "guard")
    got = model.read_results(tmp_path)
    unsanitized = aotc.load(model.out)(*model.inputs)
    unsanitized = list(unsanitized) if isinstance(unsanitized, tuple) else [unsanitized]
    assert len(got) == len(unsanitized) == len(model.expected)
    for g, u, e in zip(got, unsanitized, model.expected):
        np.testing.assert_array_equal(g, u)
        np.testing.assert_allclose(g, e, **model.tolerance)


# y = 2 * x on f32[5] (20 bytes: the buffer's 64-byte-aligned start is 44 bytes before the
# end of its span, so one float past the end lands in the canary, x[16] on the guard page).
# Built without sanitizers, as generated code is; FAULT picks a deliberate bad access.
FAULTY_C = r"""
#include <stdlib.h>
#include <string.h>
#include "aotc_runtime.h"

int32_t faulty_entry(void* const* args, void* const* results, void* temps,
                     const AotcRunOptions* options) {
  const float* x = (const float*)args[0];
  float* y = (float*)results[0];
  const char* fault = getenv("FAULT");
  volatile float sink = 0;
  int i;
  (void)options;
  for (i = 0; i < 5; ++i) y[i] = 2 * x[i];
  if (fault == NULL) return AOTC_OK;
  if (strcmp(fault, "write_past_result") == 0) y[5] = 1;
  if (strcmp(fault, "read_past_arg") == 0) sink = x[16];
  if (strcmp(fault, "read_before_arg") == 0) sink = x[-1];
  if (strcmp(fault, "touch_empty_arena") == 0) ((volatile char*)temps)[0] = 1;
  (void)sink;
  return AOTC_OK;
}
"""


@pytest.fixture(scope="module")
def faulty_harness(tmp_path_factory):
    work = tmp_path_factory.mktemp("faulty")
    (work / "faulty.c").write_text(FAULTY_C)
    subprocess.run(["gcc", "-O1", "-fPIC", "-c", "-I", str(ROOT / "runtime"), "faulty.c",
                    "-o", "faulty.o"], cwd=work, check=True)
    program = Program(name="faulty", cpp_class="Faulty", entry_symbol="faulty_entry",
                      args=[TensorSpec("x", "x", "float32", (5,))],
                      results=[TensorSpec("y", "y", "float32", (5,))], variables=[],
                      temp_bytes=0, constant_bytes=0, target="host", program_shape="")
    out = work / "out"
    write_artifact(program, out, {"faulty.o": (work / "faulty.o").read_bytes()})
    x = work / "x.bin"
    x.write_bytes(np.arange(5, dtype=np.float32).tobytes())
    return build_harness(out, "faulty", work), x, work


@pytest.mark.parametrize("fault", ["", "write_past_result", "read_past_arg",
                                   "read_before_arg", "touch_empty_arena"])
def test_the_harness_catches_out_of_bounds_accesses(faulty_harness, fault):
    harness, x, work = faulty_harness
    proc = harness_process(harness, "guard", x, work, env={"FAULT": fault} if fault else {})
    if not fault:
        assert proc.returncode == 0, proc.stderr
        y = np.fromfile(work / "result0.bin", np.float32)
        np.testing.assert_array_equal(y, 2 * np.arange(5, dtype=np.float32))
    elif fault == "write_past_result":
        assert proc.returncode == 1 and "write past the end" in proc.stderr, proc.stderr
    else:  # a fault on a guard page, reported by ASan's signal handler
        assert proc.returncode != 0 and "AddressSanitizer: SEGV" in proc.stderr, proc.stderr
