// A C API over aotc::ThreadPool (aotc_runtime.h) for the Python loader: `aotc.load(path,
// threads=N)` builds this file once into a shared library (runtime/native_pool.py) and
// hands the pool to the model's run options, so a model's tasks run on native threads,
// as they do in C++, instead of through a Python callback per kernel.

#include "aotc_runtime.h"

extern "C" {

void* aotc_pool_new(int threads) { return new aotc::ThreadPool(threads); }

void aotc_pool_delete(void* pool) { delete static_cast<aotc::ThreadPool*>(pool); }

void aotc_pool_parallel_for(void* pool, int64_t n, void (*fn)(void*, int64_t), void* ctx) {
  static_cast<aotc::ThreadPool*>(pool)->ParallelFor(n, fn, ctx);
}

}  // extern "C"
