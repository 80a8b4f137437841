"""A module compiled by the CPU backend into a shared library and called through cffi:
the harness the backend tests use to compare compiled code with the NumPy evaluator."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from cffi import FFI

from aotc.backends.cpu import compile_module
from aotc.backends.cpu.scratch import scratch_bytes
from aotc.backends.cpu.target import resolve_target
from aotc.hlo.evaluation import evaluate
from aotc.passes.buffer_assignment import assign_buffers

ENTRY = "aotc_test_entry"
_ffi = FFI()
_ffi.cdef(f"int32_t {ENTRY}(void* const* args, void* const* results, void* temps, const void* options);")
_workdir = Path(tempfile.mkdtemp(prefix="aotc_cpu_test_"))
_counter = iter(range(10**6))


def _aligned(nbytes: int) -> np.ndarray:
    """A zeroed, 64-byte-aligned byte buffer (at least 1 byte so it has an address)."""
    raw = np.zeros(nbytes + 64, np.uint8)
    start = (-raw.ctypes.data) % 64
    return raw[start:start + max(nbytes, 1)]


class Compiled:
    """A module compiled into a shared library, callable on NumPy arrays."""

    def __init__(self, module, compile=compile_module, **options):
        """`compile` is the backend's compile function (the CPU backend's by default)."""
        self.module = module
        scratch = None
        if compile is compile_module:  # the packing slots of fed GEMMs, as the backend asks
            target = options.get("target") or resolve_target(
                options.get("triple"), options.get("cpu"), options.get("features"))
            threads = options.get("threads", 1)
            scratch = lambda inst: scratch_bytes(target, inst, threads)  # noqa: E731
        self.assignment = assign_buffers(module, scratch=scratch)
        self.artifact = compile(module, self.assignment, entry_symbol=ENTRY, **options)
        # The pid too: forked workers (tools/f32_math_sweep.py --jobs) share the counter's
        # state and the directory, and one's library must not overwrite another's.
        n = f"{os.getpid()}_{next(_counter)}"
        self.object_path = _workdir / f"m{n}.o"
        self.object_path.write_bytes(self.artifact.object_code)
        if options.get("triple") is None:
            library = _workdir / f"libm{n}.so"
            subprocess.run(["cc", "-shared", "-o", str(library), str(self.object_path)], check=True)
            self.lib = _ffi.dlopen(str(library))

    def __call__(self, *args):
        params = self.module.entry.parameters
        arg_buffers = []
        for p, a in zip(params, args):
            a = np.asarray(a)
            if a.dtype.kind == "c":  # an expanded complex parameter: (re, im) pairs
                a = np.stack([a.real, a.imag], axis=-1)
            a = np.asarray(a, dtype=p.shape.element_type.np_dtype).reshape(p.shape.dims)
            buffer = _aligned(a.nbytes)
            buffer[:a.nbytes] = np.frombuffer(np.ascontiguousarray(a).tobytes(), np.uint8)
            arg_buffers.append(buffer)
        result_shapes = [r.shape for r in self.assignment.results]
        result_buffers = [_aligned(s.byte_size) for s in result_shapes]
        temps = _aligned(self.assignment.temp_bytes)
        ptr = lambda a: _ffi.cast("void*", a.ctypes.data)  # noqa: E731
        args_array = _ffi.new("void*[]", [ptr(a) for a in arg_buffers] or [_ffi.NULL])
        results_array = _ffi.new("void*[]", [ptr(r) for r in result_buffers] or [_ffi.NULL])
        assert getattr(self.lib, ENTRY)(args_array, results_array, ptr(temps), _ffi.NULL) == 0
        return [np.frombuffer(buf[:s.byte_size].tobytes(), s.element_type.np_dtype).reshape(s.dims)
                for buf, s in zip(result_buffers, result_shapes)]


# Cross targets the tests run under qemu-user: triple -> (Debian's cross C compiler, qemu).
CROSS_TARGETS = {
    "aarch64-unknown-linux-gnu": ("aarch64-linux-gnu-gcc", "qemu-aarch64"),
    "armv7-unknown-linux-gnueabihf": ("arm-linux-gnueabihf-gcc", "qemu-arm"),
    "riscv64-unknown-linux-gnu": ("riscv64-linux-gnu-gcc", "qemu-riscv64"),
}


def cross_toolchain(triple: str) -> bool:
    """Whether the cross compiler and qemu for `triple` are installed (.ci/run installs them)."""
    import shutil

    return all(shutil.which(tool) for tool in CROSS_TARGETS[triple])


def run_cross(compiled: Compiled, *args) -> list[np.ndarray]:
    """Link `compiled` (built with triple=... of CROSS_TARGETS) statically with
    tests/cross_driver.c and run it under qemu on `args`; returns the results."""
    gcc, qemu = CROSS_TARGETS[compiled.artifact.triple]
    exe = compiled.object_path.with_suffix(".exe")
    subprocess.run([gcc, "-O1", "-static", str(Path(__file__).with_name("cross_driver.c")),
                    str(compiled.object_path), "-lm", "-o", str(exe)], check=True)
    command = [qemu, str(exe), str(compiled.assignment.temp_bytes), str(len(args))]
    for k, (p, a) in enumerate(zip(compiled.module.entry.parameters, args)):
        a = np.ascontiguousarray(np.asarray(a, dtype=p.shape.element_type.np_dtype))
        path = exe.with_suffix(f".arg{k}")
        path.write_bytes(a.tobytes())
        command += [str(path), str(a.nbytes)]
    shapes = [r.shape for r in compiled.assignment.results]
    for k, shape in enumerate(shapes):
        command += [str(exe.with_suffix(f".result{k}")), str(shape.byte_size)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{qemu}: exit status {done.returncode}: {done.stderr}"
    return [np.fromfile(exe.with_suffix(f".result{k}"), s.element_type.np_dtype).reshape(s.dims)
            for k, s in enumerate(shapes)]


def check_compiled(module, args, rtol=0.0, atol=0.0, compiled=None):
    """Compile `module` (unless `compiled` is given), run it on `args` and compare every
    result with the evaluator: exact by default and for non-float results, else within
    rtol/atol. Returns the compiled module for reuse."""
    compiled = compiled or Compiled(module)
    got = compiled(*args)
    expected = evaluate(module, *args)
    expected = list(expected) if isinstance(expected, tuple) else [expected]
    for k, (g, e) in enumerate(zip(got, expected)):
        name = module.entry.root.operands[k].name
        e = np.asarray(e)
        assert g.shape == e.shape, name
        if rtol == 0 and atol == 0 or not np.issubdtype(e.dtype, np.floating):
            np.testing.assert_array_equal(g, e, err_msg=name)
        else:
            np.testing.assert_allclose(g.astype(np.float64), e.astype(np.float64), rtol=rtol,
                                       atol=atol, err_msg=name, equal_nan=True)
    return compiled
