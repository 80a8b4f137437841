"""Run a compiled artifact from Python: `load(path)` returns a callable `CompiledModel`.

The loader needs only the artifact's files, not the compiler: it reads `<name>.json`,
opens `lib<name>.so` (linking it from `<name>.o` with the system C compiler when there is
no .so) with cffi in ABI mode, and calls the entry function with 64-byte aligned NumPy
buffers that each model keeps for its lifetime.

    model = load("out/")             # or load("out/matmul.json")
    y = model(x, w)                  # positional, in Program.args order
    y = model(x_hold=x, w_hold=w)    # or by feed name (node names work too)
    outs = model.run_dict(x, w)      # {result name: array}

Variables are plain inputs and (when updated) plain outputs here: the model keeps no
state between calls. `load(path, threads=N)` runs the kernels' tasks on N threads (the
C++ aotc::ThreadPool of N - 1 workers plus the caller, built once per user as a small
library (native_pool.py) and handed to the code as AotcRunOptions; a pool of Python
threads where no C++ compiler is found; the artifact runs at most its --threads tasks at
once); the default, 1, passes NULL options.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cffi
import numpy as np

from aotc.runtime.native_pool import NativePool, pool_library
from aotc.runtime.program import BUFFER_ALIGNMENT, Program, TensorSpec

__all__ = ["CompiledModel", "load"]

_MISSING = object()


# ---------------------------------------------------------------------------------------
# Finding the files


def _find_metadata(path: Path) -> Path:
    """The `<name>.json` of the artifact at `path` (the .json itself or its directory)."""
    if path.is_file():
        if _is_metadata(path):
            return path
        # <name>.o, lib<name>.so, <name>.h: the metadata is <name>.json next to it.
        sibling = path.with_name(path.name.split(".")[0].removeprefix("lib") + ".json")
        if sibling.is_file() and _is_metadata(sibling):
            return sibling
        raise ValueError(f"{str(path)!r} is not an aotc artifact's metadata (<name>.json); "
                         "pass the artifact's directory or its .json file")
    if not path.is_dir():
        raise FileNotFoundError(f"no aotc artifact at {str(path)!r}")
    candidates = [p for p in sorted(path.glob("*.json")) if _is_metadata(p)]
    if not candidates:
        raise FileNotFoundError(f"no aotc metadata (<name>.json) in {str(path)!r}")
    if len(candidates) > 1:
        listed = ", ".join(c.name for c in candidates)
        raise ValueError(f"several artifacts in {str(path)!r} ({listed}); pass the .json path")
    return candidates[0]


def _is_metadata(path: Path) -> bool:
    """Whether `path` holds an aotc Program as JSON (not some other file)."""
    try:
        Program.from_json(path.read_bytes().decode("utf-8"))
    except (ValueError, TypeError, KeyError, AttributeError):  # UnicodeDecodeError too
        return False
    return True


def _cache_dirs(artifact_dir: Path) -> list[Path]:
    """Where a linked .so may be cached: next to the artifact, else a per-user temp dir."""
    return [artifact_dir / ".aotc_cache", _user_cache()]


def _user_cache() -> Path:
    """The per-user cache directory (linked models of read-only artifacts, the pool)."""
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"aotc-cache-{uid}"


def _link(obj: Path, output: Path) -> None:
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        raise RuntimeError(
            f"cannot load {obj.name}: no shared library next to it and no C compiler "
            f"({cc!r}) to link one; install a C compiler, set CC, or compile with shared=True"
        )
    # Link to a private name, then rename: concurrent loaders never see a partial file.
    fd, tmp = tempfile.mkstemp(prefix=output.name + ".", suffix=".tmp", dir=output.parent)
    os.close(fd)
    try:
        cmd = [cc, "-shared", "-o", tmp, str(obj)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"linking {obj} failed ({' '.join(cmd)}):\n{proc.stderr}")
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _shared_library(artifact_dir: Path, program: Program) -> Path:
    """`lib<name>.so` of the artifact, linked from `<name>.o` into a cache if needed."""
    so = artifact_dir / f"lib{program.name}.so"
    if so.is_file():
        return so
    obj = artifact_dir / f"{program.name}.o"
    if not obj.is_file():
        raise FileNotFoundError(
            f"{str(artifact_dir)!r} has neither {so.name} nor {obj.name}; nothing to load"
        )
    digest = hashlib.sha256(obj.read_bytes()).hexdigest()[:16]
    errors = []
    for cache in _cache_dirs(artifact_dir):
        cached = cache / f"lib{program.name}-{digest}.so"
        if cached.is_file():
            return cached
        try:
            cache.mkdir(parents=True, exist_ok=True)
            _link(obj, cached)
            return cached
        except OSError as e:  # e.g. a read-only artifact dir: try the next place
            errors.append(str(e))
    raise RuntimeError(f"cannot write a linked {so.name} anywhere: {'; '.join(errors)}")


# ---------------------------------------------------------------------------------------
# Buffers and argument checking


def _aligned_bytes(nbytes: int) -> np.ndarray:
    """A uint8 array of `nbytes` whose data starts on a BUFFER_ALIGNMENT boundary."""
    raw = np.zeros(nbytes + BUFFER_ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % BUFFER_ALIGNMENT
    return raw[start : start + nbytes]


def _align(n: int) -> int:
    return (n + BUFFER_ALIGNMENT - 1) // BUFFER_ALIGNMENT * BUFFER_ALIGNMENT


def _describe(dtype_name: str, shape) -> str:
    return f"{dtype_name}[{','.join(str(d) for d in shape)}]"


def _label(spec: TensorSpec, index: int, kind: str) -> str:
    return spec.name or spec.node or f"{kind}{index}"


def _as_input(value, spec: TensorSpec, label: str) -> np.ndarray:
    """`value` as an array of exactly `spec`'s dtype and shape, or a clear error.

    NumPy arrays and scalars must have the exact dtype (bfloat16 args take uint16 bits, or
    ml_dtypes bfloat16 arrays). Python scalars and lists are converted when the cast is
    of the same kind and, for integer/bool targets, loses nothing.
    """
    expected = np.dtype(spec.numpy_dtype)
    want = _describe(spec.dtype, spec.shape)
    if isinstance(value, (np.ndarray, np.generic)):
        arr = np.asarray(value)
        if arr.dtype != expected and arr.dtype.newbyteorder("=") == expected:
            arr = arr.astype(expected)  # the same type in the other byte order: convert
        if spec.dtype == "bfloat16" and arr.dtype.name == "bfloat16":
            arr = arr.view(np.uint16)
        if arr.dtype != expected:
            raise TypeError(
                f"argument {label!r} expects {want}, got {_describe(arr.dtype.name, arr.shape)}"
            )
    else:
        arr = np.asarray(value)
        if arr.dtype != expected:
            ok = arr.dtype != object and np.can_cast(arr.dtype, expected, "same_kind")
            cast = arr.astype(expected) if ok else None
            if ok and expected.kind in "biu" and not np.array_equal(cast, arr):
                ok = False  # an integer that does not fit
            if not ok:
                raise TypeError(
                    f"argument {label!r} expects {want}, got {type(value).__name__} "
                    f"({_describe(arr.dtype.name, arr.shape)}) that does not convert safely"
                )
            arr = cast
    if arr.shape != tuple(spec.shape):
        raise ValueError(
            f"argument {label!r} expects {want}, got {_describe(arr.dtype.name, arr.shape)}"
        )
    return arr


# ---------------------------------------------------------------------------------------
# The model


class CompiledModel:
    """A loaded artifact: call it with NumPy arrays, get NumPy arrays back.

    Buffers (args, results, temps) are allocated once per model and reused; calls are
    serialized with a lock, so one model may be shared between threads. Returned arrays
    are fresh copies.
    """

    def __init__(self, program: Program, library_path: Path, threads: int = 1):
        self.program = program
        self.library_path = Path(library_path)
        self._ffi = cffi.FFI()
        symbol = program.entry_symbol
        self._ffi.cdef(
            f"int32_t {symbol}(void* const* args, void* const* results, void* temps, "
            "const void* options);"
        )
        self._pool = _thread_pool(self._ffi, threads) if threads > 1 else None
        self._options = self._ffi.NULL if self._pool is None else self._pool.options
        self._lib = self._ffi.dlopen(str(self.library_path))
        try:
            self._entry = getattr(self._lib, symbol)
        except AttributeError:
            raise RuntimeError(f"{self.library_path} does not define {symbol!r}") from None
        self._lock = threading.Lock()
        self._driver = self._bind_driver()

        self._arg_labels = [_label(s, i, "arg") for i, s in enumerate(program.args)]
        self._result_keys = self._unique_result_keys()
        # Keyword names: the Config name, and the node name when it does not clash.
        self._arg_index = {s.name: i for i, s in enumerate(program.args) if s.name}
        for i, spec in enumerate(program.args):
            self._arg_index.setdefault(spec.node, i)
        self._allocate()
        if self._driver is not None:
            self._start_driver()

    def _bind_driver(self):
        """(init, error, release) of a backend whose code loads a driver at run time (the
        CUDA backend names them in backend_info), else None."""
        info = self.program.backend_info
        names = [info.get(f"{k}_symbol") for k in ("init", "error", "release")]
        if not all(names):
            return None
        self._ffi.cdef(f"int32_t {names[0]}(void* temps);\n"
                       f"const char* {names[1]}(const void* temps);\n"
                       f"void {names[2]}(void* temps);")
        return tuple(getattr(self._lib, n) for n in names)

    def _start_driver(self) -> None:
        """Set the driver up now, so a missing driver or GPU is an error of load()."""
        init, _, release = self._driver
        if init(self._temps_ptr) != 0:
            raise RuntimeError(f"{self.program.name}: {self._driver_error()}")
        self._release = (release, self._temps_ptr, self._block)

    def _driver_error(self) -> str:
        return self._ffi.string(self._driver[1](self._temps_ptr)).decode(errors="replace")

    def __del__(self):
        release = getattr(self, "_release", None)
        if release is not None:
            release[0](release[1])

    def _unique_result_keys(self) -> list[str]:
        keys = [_label(s, i, "result") for i, s in enumerate(self.program.results)]
        return [k if keys.count(k) == 1 else f"result{i}" for i, k in enumerate(keys)]

    def _allocate(self) -> None:
        """One aligned block holding every arg, result and the temp arena."""
        specs = self.program.args + self.program.results
        offsets, total = [], 0
        for spec in specs:
            offsets.append(total)
            total += _align(spec.size_bytes)
        temps_offset = total
        self._block = _aligned_bytes(total + _align(self.program.temp_bytes))
        views = [
            self._block[o : o + s.size_bytes].view(s.numpy_dtype).reshape(s.shape)
            for o, s in zip(offsets, specs)
        ]
        n_args = len(self.program.args)
        self._arg_views, self._result_views = views[:n_args], views[n_args:]
        base = self._block.ctypes.data

        def pointers(offs):
            array = self._ffi.new("void*[]", max(len(offs), 1))
            for i, o in enumerate(offs):
                array[i] = self._ffi.cast("void*", base + o)
            return array

        self._arg_ptrs = pointers(offsets[:n_args])
        self._result_ptrs = pointers(offsets[n_args:])
        self._temps_ptr = self._ffi.cast("void*", base + temps_offset)

    def _bind(self, args: tuple, kwargs: dict) -> list[np.ndarray]:
        """Positional and keyword arguments -> one checked array per Program.args entry."""
        n = len(self.program.args)
        if len(args) > n:
            raise TypeError(f"{self.program.name} takes {n} argument(s) but {len(args)} were given")
        bound = list(args) + [_MISSING] * (n - len(args))
        for key, value in kwargs.items():
            i = self._arg_index.get(key)
            if i is None:
                known = ", ".join(repr(k) for k in self._arg_index) or "none"
                raise TypeError(f"unexpected keyword argument {key!r}; expected one of: {known}")
            if bound[i] is not _MISSING:
                raise TypeError(f"got multiple values for argument {self._arg_labels[i]!r}")
            bound[i] = value
        missing = [f"{self._arg_labels[i]!r} (index {i})" for i, v in enumerate(bound) if v is _MISSING]
        if missing:
            raise TypeError(f"missing argument{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
        return [_as_input(v, s, l) for v, s, l in zip(bound, self.program.args, self._arg_labels)]

    def _run(self, args: tuple, kwargs: dict) -> list[np.ndarray]:
        inputs = self._bind(args, kwargs)
        with self._lock:
            for view, value in zip(self._arg_views, inputs):
                np.copyto(view, value, casting="no")
            status = self._entry(self._arg_ptrs, self._result_ptrs, self._temps_ptr, self._options)
            if status != 0 and self._driver is not None:
                raise RuntimeError(f"{self.program.name}: {self._driver_error()}")
            if status != 0:
                raise RuntimeError(
                    f"{self.program.entry_symbol} returned status {status} ({self.program.name})"
                )
            return [view.copy() for view in self._result_views]

    def __call__(self, *args, **kwargs):
        """Run once: a single array if the program has one result, else a tuple."""
        outputs = self._run(args, kwargs)
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def run_dict(self, *args, **kwargs) -> dict[str, np.ndarray]:
        """Run once and return {result name (or node name): array}."""
        return dict(zip(self._result_keys, self._run(args, kwargs)))

    @property
    def arg_names(self) -> list[str]:
        """How each argument is referred to (Config name, else node name)."""
        return list(self._arg_labels)

    @property
    def result_names(self) -> list[str]:
        """The keys of `run_dict`, in result order."""
        return list(self._result_keys)

    def __repr__(self) -> str:
        sig = lambda specs, labels: ", ".join(  # noqa: E731
            f"{l}: {_describe(s.dtype, s.shape)}" for s, l in zip(specs, labels)
        )
        return (
            f"<CompiledModel {self.program.name} ({sig(self.program.args, self._arg_labels)})"
            f" -> ({sig(self.program.results, self._result_keys)})>"
        )


def _thread_pool(ffi: cffi.FFI, threads: int):
    """Run options for `threads` threads: the native pool (native_pool.py, built once into
    the per-user cache, not per artifact) where it can be built, else a pool of Python
    threads."""
    ffi.cdef("typedef struct { void* pool; void (*parallel_for)(void*, int64_t, "
             "void (*)(void*, int64_t), void*); } AotcRunOptions;")
    try:
        library = pool_library(_user_cache())
    except OSError:  # an unwritable temp dir: the fallback still works
        library = None
    return _PythonPool(ffi, threads) if library is None else NativePool(ffi, library, threads)


class _PythonPool:
    """AotcRunOptions whose parallel_for runs fn(ctx, i) on `threads` threads: i = 0 on
    the calling thread, the others on a ThreadPoolExecutor. cffi releases the GIL while
    a task's native code runs, so the tasks run in parallel (but each parallel_for pays
    a Python callback: the fallback where no C++ compiler builds the native pool)."""

    def __init__(self, ffi: cffi.FFI, threads: int):
        self._executor = ThreadPoolExecutor(threads - 1, thread_name_prefix="aotc")

        @ffi.callback("void(void*, int64_t, void (*)(void*, int64_t), void*)")
        def parallel_for(_pool, n, fn, ctx):
            pending = [self._executor.submit(fn, ctx, i) for i in range(1, n)]
            if n > 0:
                fn(ctx, 0)
            for future in pending:
                future.result()

        self._callback = parallel_for  # kept alive as long as the options are
        self.options = ffi.new("AotcRunOptions*")
        self.options.parallel_for = parallel_for


def load(path, threads: int = 1) -> CompiledModel:
    """Load the artifact in directory `path` (or with metadata file `path`); `threads`
    > 1 runs its kernels' tasks on that many threads."""
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    json_path = _find_metadata(Path(path))
    program = Program.from_json(json_path.read_text())
    return CompiledModel(program, _shared_library(json_path.parent, program), threads)
