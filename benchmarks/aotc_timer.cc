// Times an aotc artifact from C++: reads each argument from a raw file, runs the model
// RUNS times after a warm-up (3 runs and 0.2 s at least), prints the median CPU time of the calling thread and
// then the median run time (wall), in nanoseconds, and writes each result to
// OUTDIR/resultN.bin (so the benchmark can check it). The calling thread's CPU time is
// what a run would take with the other threads' tasks done for free: on a busy machine,
// where a second thread finds no free core, it still shows how the work was shared.
// Built by benchmarks/run.py with -DAOTC_HEADER="name.h" -DAOTC_CLASS=ns::Name and
// -DAOTC_THREADS=N: with N > 1 the model runs on an aotc::ThreadPool of N threads.
//   aotc_timer RUNS ARG0.bin ... ARGn.bin OUTDIR
#include AOTC_HEADER

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <time.h>

#ifndef AOTC_THREADS
#define AOTC_THREADS 1
#endif

// CPU time of the calling thread, in nanoseconds.
static double ThreadCpuNanos() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char** argv) {
  AOTC_CLASS model;
  aotc::ThreadPool pool(AOTC_THREADS);
  if (AOTC_THREADS > 1) model.set_thread_pool(&pool);
  if (static_cast<size_t>(argc) != model.kNumArgs + 3) {
    std::fprintf(stderr, "usage: %s RUNS ARG0.bin ... OUTDIR\n", argv[0]);
    return 2;
  }
  const int runs = std::atoi(argv[1]);
  for (size_t i = 0; i < model.kNumArgs; ++i) {
    std::ifstream in(argv[i + 2], std::ios::binary);
    in.read(static_cast<char*>(model.arg_data(i)), static_cast<std::streamsize>(model.ArgSize(i)));
  }
  // Warm up for at least 3 runs and 0.2 s: a pool's threads start on the core that
  // created them and the scheduler spreads them over the cores within milliseconds,
  // longer than a short model's timed runs (at 2 threads, one launch in three then ran
  // with both threads on one core: the 1-thread time).
  const auto warm_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
  for (int r = 0; r < 3 || std::chrono::steady_clock::now() < warm_until; ++r) {
    if (!model.Run()) {
      std::fprintf(stderr, "Run failed: %s\n", model.error_msg().c_str());
      return 1;
    }
  }
  std::vector<double> times, cpu_times;
  for (int r = 0; r < runs; ++r) {
    const double cpu_start = ThreadCpuNanos();
    auto start = std::chrono::steady_clock::now();
    if (!model.Run()) {
      std::fprintf(stderr, "Run failed: %s\n", model.error_msg().c_str());
      return 1;
    }
    auto stop = std::chrono::steady_clock::now();
    const double cpu_stop = ThreadCpuNanos();
    times.push_back(std::chrono::duration<double, std::nano>(stop - start).count());
    cpu_times.push_back(cpu_stop - cpu_start);
  }
  std::sort(times.begin(), times.end());
  std::sort(cpu_times.begin(), cpu_times.end());
  std::printf("%.0f %.0f\n", cpu_times[cpu_times.size() / 2], times[times.size() / 2]);
  for (size_t i = 0; i < model.kNumResults; ++i) {
    std::ofstream out(std::string(argv[argc - 1]) + "/result" + std::to_string(i) + ".bin",
                      std::ios::binary);
    out.write(static_cast<const char*>(model.result_data(i)),
              static_cast<std::streamsize>(model.ResultSize(i)));
  }
  return 0;
}
