"""Cross targets: the op-coverage cases of arithmetic, unary math, activations and
reductions compiled for aarch64, armv7 (hard-float) and riscv64 (lp64d), linked statically
with Debian's cross toolchains and run under qemu-user, against TensorFlow.

One module holds every case (lowered once); each triple compiles it once. The objects must
link with the distribution's toolchain as they are (riscv64: RV64GC, double-float ABI;
armv7: VFP registers for arguments) and need nothing from libm: math is emitted inline.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from compiled import CROSS_TARGETS, Compiled, cross_toolchain, run_cross  # noqa: E402
from op_coverage_cases import ACTIVATIONS, ARITHMETIC, CLASSIFY, REDUCTIONS, UNARY  # noqa: E402
from tf_graphs import assert_matches, optimized_batch  # noqa: E402

CASES = ARITHMETIC + UNARY + CLASSIFY + ACTIVATIONS + REDUCTIONS

# What the static link may resolve from libgcc: 32-bit ARM has no 64-bit integer division
# instruction, so LLVM calls the EABI's helpers for it (as GCC does).
RUNTIME_HELPERS = {"armv7-unknown-linux-gnueabihf": ("__aeabi_",)}


@pytest.fixture(scope="module")
def batch():
    return optimized_batch(CASES)


@pytest.mark.parametrize("triple", list(CROSS_TARGETS))
def test_cases_match_tensorflow_under_qemu(batch, triple):
    if not cross_toolchain(triple):
        pytest.skip(f"needs {' and '.join(CROSS_TARGETS[triple])} (.ci/run installs them)")
    module, inputs, expected, ranges = batch
    compiled = Compiled(module, triple=triple)
    nm = shutil.which(CROSS_TARGETS[triple][0].replace("-gcc", "-nm")) or "nm"
    listing = subprocess.run([nm, "-u", str(compiled.object_path)], capture_output=True,
                             text=True, check=True).stdout
    undefined = {line.split()[-1] for line in listing.splitlines() if line.strip()}
    helpers = RUNTIME_HELPERS.get(triple, ())
    assert {u for u in undefined if not u.startswith(helpers)} <= {"memcpy", "memset"}, undefined
    if triple.startswith("riscv64"):  # e_flags: RVC, double-float ABI (armv7's link checks it)
        assert int.from_bytes(compiled.artifact.object_code[48:52], "little") & 0x7 == 0x5
    got = run_cross(compiled, *inputs)
    failures = []
    for case, fetched in zip(CASES, ranges):
        for k in fetched:
            try:
                assert_matches(got[k], np.asarray(expected[k]), case.tol, f"{case.id} result {k}")
            except AssertionError as e:
                failures.append(str(e))
    assert not failures, "\n\n".join(failures)


def test_default_abi_and_features():
    from aotc.backends.cpu.target import resolve_target

    riscv = resolve_target("riscv64-unknown-linux-gnu", None, None)
    assert riscv.abi == "lp64d" and riscv.has_native_rounding
    assert {"m", "a", "f", "d", "c"} <= set(f.lstrip("+") for f in riscv.features.split(","))
    assert resolve_target("riscv64-unknown-linux-gnu", None, "-d").abi == "lp64f"
    assert resolve_target("riscv64-unknown-linux-gnu", None, "-d,-f").abi == "lp64"
    arm = resolve_target("armv7-unknown-linux-gnueabihf", None, None)
    assert arm.abi == "" and not arm.has_native_rounding
