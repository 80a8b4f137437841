/* aotc runtime: the few definitions shared by every aotc-generated header.
 *
 * Shipped next to every artifact. C (C11 or later) and C++ (C++11 or later) compatible;
 * includes only standard headers. In C++ it also provides aotc::ThreadPool, a small
 * std::thread pool that plugs into AotcRunOptions (define AOTC_NO_THREAD_POOL before
 * including this header to leave it out, e.g. to avoid pulling in <thread>).
 *
 * Calling convention of every generated entry function:
 *
 *   int32_t ENTRY(void* const* args, void* const* results, void* temps,
 *                 const AotcRunOptions* options);
 *
 * args/results hold one pointer per argument/result, temps points at one arena of
 * <NAME>_TEMP_BYTES bytes; every buffer must be AOTC_BUFFER_ALIGNMENT-byte aligned.
 * The return value is AOTC_OK (0) on success, or one of the AOTC_ERROR_* codes.
 */
#ifndef AOTC_RUNTIME_H_
#define AOTC_RUNTIME_H_

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#if defined(_MSC_VER)
#include <malloc.h>
#endif

/* Alignment, in bytes, of every argument, result and temp buffer. */
#define AOTC_BUFFER_ALIGNMENT 64

/* Status codes returned by entry functions. */
#define AOTC_OK 0
#define AOTC_ERROR_INTERNAL 1
#define AOTC_ERROR_INVALID_ARGUMENT 2
#define AOTC_ERROR_RESOURCE_EXHAUSTED 3
#define AOTC_ERROR_UNAVAILABLE 4

#ifdef __cplusplus
extern "C" {
#endif

/* How a generated function may run work in parallel.
 *
 * options == NULL, or options->parallel_for == NULL: everything runs on the calling
 * thread. Otherwise the function may call parallel_for(pool, n, fn, ctx), which must call
 * fn(ctx, i) exactly once for every i in [0, n) (in any order, on any threads) and return
 * only when all calls have returned. */
typedef struct AotcRunOptions {
  void* pool;
  void (*parallel_for)(void* pool, int64_t n, void (*fn)(void* ctx, int64_t i), void* ctx);
} AotcRunOptions;

/* A short English description of a status code. */
static inline const char* aotc_status_string(int32_t status) {
  switch (status) {
    case AOTC_OK: return "ok";
    case AOTC_ERROR_INTERNAL: return "internal error";
    case AOTC_ERROR_INVALID_ARGUMENT: return "invalid argument";
    case AOTC_ERROR_RESOURCE_EXHAUSTED: return "resource exhausted";
    case AOTC_ERROR_UNAVAILABLE: return "unavailable";
    default: return "unknown error";
  }
}

/* Allocate `size` bytes aligned to AOTC_BUFFER_ALIGNMENT; free with aotc_aligned_free.
 *
 * The size is rounded up to a multiple of the alignment (C11 aligned_alloc requires it).
 * size == 0 allocates one alignment unit, so the result is always a valid, unique,
 * non-NULL pointer unless memory is exhausted (then NULL). */
static inline void* aotc_aligned_alloc(size_t size) {
  const size_t a = AOTC_BUFFER_ALIGNMENT;
  if (size > SIZE_MAX - a) return NULL;
  size = size == 0 ? a : (size + a - 1) / a * a;
#if defined(_MSC_VER)
  return _aligned_malloc(size, a);
#else
  return aligned_alloc(a, size);
#endif
}

/* Free memory from aotc_aligned_alloc; NULL is a no-op. */
static inline void aotc_aligned_free(void* p) {
#if defined(_MSC_VER)
  _aligned_free(p);
#else
  free(p);
#endif
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#if defined(__cplusplus) && !defined(AOTC_NO_THREAD_POOL)
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace aotc {

/* A fixed-size pool of std::threads for AotcRunOptions::parallel_for.
 *
 *   aotc::ThreadPool pool(4);          // 4 threads in all: 3 workers + the caller
 *   comp.set_thread_pool(&pool);
 *
 * ParallelFor hands out indices from a shared counter; the calling thread works too.
 * A model's Run() calls ParallelFor once per big kernel, often thousands of times a
 * second, so a call must cost little beyond its work:
 * - the caller waits only for the workers that took part (a worker that wakes after
 *   the caller has taken every index skips the job instead of being waited for);
 * - a worker that finished a job spins a short while (SpinTime(), yielding its core to
 *   any other runnable thread) for the next one before it sleeps on the condition
 *   variable, and the caller spins as briefly for the last tasks to finish: a sleep and
 *   a wake-up cost tens of microseconds on a busy machine, more than many kernels take.
 * Concurrent ParallelFor calls from different threads are serialized; a nested call from
 * inside a running task runs inline on that thread (so it cannot deadlock). */
class ThreadPool {
 public:
  /* num_threads <= 0 means std::thread::hardware_concurrency(). */
  explicit ThreadPool(int num_threads = 0) {
    if (num_threads <= 0) num_threads = static_cast<int>(std::thread::hardware_concurrency());
    if (num_threads <= 0) num_threads = 1;
    for (int i = 1; i < num_threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  }

  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_.store(true);
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  /* Threads that run tasks, the calling thread included. */
  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }

  /* Call fn(ctx, i) for every i in [0, n); returns when all calls are done. */
  void ParallelFor(int64_t n, void (*fn)(void* ctx, int64_t i), void* ctx) {
    if (n <= 0) return;
    if (workers_.empty() || n == 1 || InsideTask()) {
      for (int64_t i = 0; i < n; ++i) fn(ctx, i);
      return;
    }
    std::lock_guard<std::mutex> one_job_at_a_time(call_mu_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      fn_ = fn;
      ctx_ = ctx;
      n_ = n;
      next_.store(0, std::memory_order_relaxed);
      open_ = true;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    Work();
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = false;  // every index is taken: a worker waking now skips this job
    }
    // Wait for the workers that joined to finish their last task: spin, then sleep.
    const auto deadline = std::chrono::steady_clock::now() + SpinTime();
    for (unsigned i = 0; active_.load(std::memory_order_acquire) != 0; ++i) {
      if ((i & 63) == 0 && std::chrono::steady_clock::now() > deadline) break;
      Pause();
    }
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [this] { return active_.load(std::memory_order_acquire) == 0; });
  }

  /* Fits AotcRunOptions::parallel_for; `pool` is a ThreadPool*. */
  static void ParallelForTrampoline(void* pool, int64_t n, void (*fn)(void* ctx, int64_t i),
                                    void* ctx) {
    static_cast<ThreadPool*>(pool)->ParallelFor(n, fn, ctx);
  }

  /* Run options that use this pool. */
  AotcRunOptions run_options() {
    AotcRunOptions options;
    options.pool = this;
    options.parallel_for = &ThreadPool::ParallelForTrampoline;
    return options;
  }

 private:
  /* How long a worker spins for the next job, and the caller for the last tasks. */
  static std::chrono::microseconds SpinTime() { return std::chrono::microseconds(50); }

  /* True on a thread that is currently running a task of any ThreadPool. */
  static bool& InsideTaskFlag() {
    static thread_local bool inside = false;
    return inside;
  }
  static bool InsideTask() { return InsideTaskFlag(); }

  /* One turn of a spin-wait: yield, not a CPU pause, so that on a machine with more
   * runnable threads than cores the spinning thread hands its core to one of them (a
   * pause-spin made 2 threads 1.3-1.8x slower than 1 on a busy 2-core machine). */
  static void Pause() { std::this_thread::yield(); }

  /* Take indices until none are left. The job's fields were written under mu_ before
   * this thread joined (under mu_), and stay until every joined thread has left. */
  void Work() {
    InsideTaskFlag() = true;
    for (int64_t i = next_.fetch_add(1); i < n_; i = next_.fetch_add(1)) fn_(ctx_, i);
    InsideTaskFlag() = false;
  }

  void WorkerLoop() {
    uint64_t seen = 0;
    for (;;) {
      // Spin a short while for the next job: Run() calls ParallelFor kernel after kernel.
      const auto deadline =
          std::chrono::steady_clock::now() + SpinTime();
      for (unsigned i = 0; generation_.load(std::memory_order_acquire) == seen &&
                           !stop_.load(std::memory_order_relaxed); ++i) {
        if ((i & 63) == 0 && std::chrono::steady_clock::now() > deadline) break;
        Pause();
      }
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] {
        return stop_.load(std::memory_order_relaxed) ||
               generation_.load(std::memory_order_relaxed) != seen;
      });
      if (stop_.load(std::memory_order_relaxed)) return;
      seen = generation_.load(std::memory_order_relaxed);
      if (!open_) continue;  // the caller already took every index
      active_.fetch_add(1, std::memory_order_relaxed);
      lock.unlock();
      Work();
      if (active_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        lock.lock();  // under mu_, so the caller cannot miss the notification
        done_.notify_one();
      }
    }
  }

  std::vector<std::thread> workers_;
  std::mutex call_mu_;  // held for a whole ParallelFor: one job at a time
  std::mutex mu_;       // guards open_ and the job fields; the waits use it
  std::condition_variable wake_;
  std::condition_variable done_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> generation_{0};  // bumped (under mu_) for each job
  bool open_ = false;                    // the current job still takes workers
  std::atomic<int> active_{0};           // workers inside the current job
  void (*fn_)(void*, int64_t) = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
  std::atomic<int64_t> next_{0};
};

}  // namespace aotc
#endif /* __cplusplus && !AOTC_NO_THREAD_POOL */

#endif /* AOTC_RUNTIME_H_ */
