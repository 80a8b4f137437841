"""The native thread pool of `aotc.load(path, threads=N)`: aotc::ThreadPool (the C++ pool
of aotc_runtime.h) behind a small C API (thread_pool.cc), built once per user with the
host's C++ compiler and cached in the loader's per-user cache directory.

A model calls parallel_for once per big kernel, thousands of times a second; through a
Python callback each call cost tens of microseconds of GIL traffic (MobileNetV2 ran 9x
slower on 2 threads than the C++ pool), through this library nothing beyond the C++
pool's own cost. Where no C++ compiler is found, `load` falls back to a pool of Python
threads (the same results, slower).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = (HERE / "thread_pool.cc", HERE / "aotc_runtime.h")

C_API = """
void* aotc_pool_new(int threads);
void aotc_pool_delete(void* pool);
void aotc_pool_parallel_for(void* pool, int64_t n, void (*fn)(void*, int64_t), void* ctx);
"""


def pool_library(cache: Path) -> Path | None:
    """The built pool library in `cache` (built now if missing), or None when there is no
    C++ compiler or the build fails."""
    cxx = os.environ.get("CXX", "c++")
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in SOURCES)).hexdigest()[:16]
    library = cache / f"libaotc_pool-{digest}.so"
    if library.is_file():
        return library
    if shutil.which(cxx) is None:
        return None
    cache.mkdir(parents=True, exist_ok=True)
    # Build under a private name, then rename: concurrent loaders never see a partial file.
    fd, tmp = tempfile.mkstemp(prefix=library.name + ".", suffix=".tmp", dir=cache)
    os.close(fd)
    try:
        command = [cxx, "-std=c++17", "-O2", "-fPIC", "-shared", "-pthread",
                   f"-I{HERE}", "-o", tmp, str(SOURCES[0])]
        if subprocess.run(command, capture_output=True).returncode != 0:
            return None
        os.replace(tmp, library)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return library


class NativePool:
    """AotcRunOptions (declared in `ffi` by the caller) whose parallel_for runs a model's
    tasks on an aotc::ThreadPool of `threads` threads, the calling one included."""

    def __init__(self, ffi, library: Path, threads: int):
        ffi.cdef(C_API)
        self._lib = ffi.dlopen(str(library))
        self._pool = ffi.gc(self._lib.aotc_pool_new(threads), self._lib.aotc_pool_delete)
        self.options = ffi.new("AotcRunOptions*")
        self.options.pool = self._pool
        self.options.parallel_for = self._lib.aotc_pool_parallel_for
