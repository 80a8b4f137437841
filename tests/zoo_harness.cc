// A driver for hostile-environment checks of any generated artifact, built with
// -DAOTC_HEADER="x.h" -DAOTC_CLASS=ns::X -DAOTC_ENTRY=x_entry (and, in the tests, with
// -fsanitize=address,undefined). Reads each argument from a raw file; writes each result
// to OUTDIR/result<i>.bin.
//
//   zoo_harness guard ARG0.bin ... ARGn.bin OUTDIR
//     Calls the C entry with every argument, result and the temp arena in a buffer of
//     exactly its size placed against a PROT_NONE guard page: once ending at the page
//     boundary (overruns fault), once starting right after a guard page (underruns fault),
//     with and without a thread pool; then the C++ class on the same guarded args. Every
//     run must give the same bytes. The entry requires 64-byte aligned buffers, so a
//     buffer whose size is not a multiple of 64 ends up to 63 bytes before the page; those
//     bytes hold a canary that must survive.
//
//   zoo_harness threads N ITERATIONS ARG0.bin ... ARGn.bin OUTDIR
//     One reference Run(), then N threads, each with its own instance (every other one on
//     a thread pool shared by those threads), each Run() ITERATIONS times on its own copy
//     of the args and compares every result with the reference, byte for byte.
#include AOTC_HEADER

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr unsigned char kCanary = 0xA5;
constexpr size_t kAlign = AOTC_BUFFER_ALIGNMENT;

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

// A buffer of `size` bytes next to a guard page: [guard][data pages][guard].
class Guarded {
 public:
  Guarded(size_t size, bool at_end) : size_(size) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t span = RoundUp(size + kAlign, page);  // room for the aligned placement
    total_ = span + 2 * page;
    void* base = mmap(nullptr, total_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) Die("mmap failed");
    base_ = static_cast<unsigned char*>(base);
    if (mprotect(base_, page, PROT_NONE) != 0 || mprotect(base_ + page + span, page, PROT_NONE) != 0)
      Die("mprotect failed");
    unsigned char* end = base_ + page + span;
    data_ = at_end ? end - RoundUp(size, kAlign) : base_ + page;
    slack_end_ = at_end ? end : data_ + RoundUp(size, kAlign);
    std::memset(data_, 0, size);
    std::memset(data_ + size, kCanary, static_cast<size_t>(slack_end_ - (data_ + size)));
  }
  ~Guarded() { munmap(base_, total_); }
  Guarded(const Guarded&) = delete;
  Guarded& operator=(const Guarded&) = delete;

  void* data() { return data_; }
  // True when nothing wrote past the end into the alignment slack.
  bool SlackIntact() const {
    for (const unsigned char* p = data_ + size_; p < slack_end_; ++p)
      if (*p != kCanary) return false;
    return true;
  }

  static void Die(const char* what) {
    std::perror(what);
    std::exit(2);
  }

 private:
  size_t size_, total_;
  unsigned char* base_;
  unsigned char* data_;
  unsigned char* slack_end_;
};

using Bytes = std::vector<std::vector<unsigned char>>;

Bytes ReadArgs(char** files) {
  Bytes args(AOTC_CLASS::kNumArgs);
  for (size_t i = 0; i < args.size(); ++i) {
    std::ifstream in(files[i], std::ios::binary);
    args[i].resize(AOTC_CLASS::ArgSize(i));
    in.read(reinterpret_cast<char*>(args[i].data()), static_cast<std::streamsize>(args[i].size()));
    if (static_cast<size_t>(in.gcount()) != args[i].size()) {
      std::cerr << "short read for argument " << i << "\n";
      std::exit(2);
    }
  }
  return args;
}

void WriteResults(const Bytes& results, const std::string& dir) {
  for (size_t i = 0; i < results.size(); ++i) {
    std::ofstream out(dir + "/result" + std::to_string(i) + ".bin", std::ios::binary);
    out.write(reinterpret_cast<const char*>(results[i].data()),
              static_cast<std::streamsize>(results[i].size()));
  }
}

// One call of the C entry with every buffer guarded.
Bytes RunGuarded(const Bytes& args, bool at_end, const AotcRunOptions* options) {
  std::vector<Guarded*> arg_buffers, result_buffers;
  std::vector<void*> arg_ptrs(AOTC_CLASS::kNumArgs + 1), result_ptrs(AOTC_CLASS::kNumResults + 1);
  for (size_t i = 0; i < AOTC_CLASS::kNumArgs; ++i) {
    arg_buffers.push_back(new Guarded(args[i].size(), at_end));
    std::memcpy(arg_buffers[i]->data(), args[i].data(), args[i].size());
    arg_ptrs[i] = arg_buffers[i]->data();
  }
  for (size_t i = 0; i < AOTC_CLASS::kNumResults; ++i) {
    result_buffers.push_back(new Guarded(AOTC_CLASS::ResultSize(i), at_end));
    result_ptrs[i] = result_buffers[i]->data();
  }
  Guarded temps(AOTC_CLASS::kTempBytes, at_end);
  const int32_t status = AOTC_ENTRY(arg_ptrs.data(), result_ptrs.data(), temps.data(), options);
  if (status != AOTC_OK) {
    std::cerr << "entry failed: " << aotc_status_string(status) << "\n";
    std::exit(1);
  }
  Bytes results(AOTC_CLASS::kNumResults);
  bool intact = temps.SlackIntact();
  for (size_t i = 0; i < AOTC_CLASS::kNumResults; ++i) {
    const auto* p = static_cast<const unsigned char*>(result_ptrs[i]);
    results[i].assign(p, p + AOTC_CLASS::ResultSize(i));
    intact = intact && result_buffers[i]->SlackIntact();
    delete result_buffers[i];
  }
  for (size_t i = 0; i < AOTC_CLASS::kNumArgs; ++i) {
    intact = intact && arg_buffers[i]->SlackIntact();
    if (std::memcmp(arg_ptrs[i], args[i].data(), args[i].size()) != 0 &&
        AOTC_CLASS::kNumVariables == 0) {
      std::cerr << "the entry wrote into argument " << i << "\n";
      std::exit(1);
    }
    delete arg_buffers[i];
  }
  if (!intact) {
    std::cerr << "a write past the end of a buffer (alignment slack changed)\n";
    std::exit(1);
  }
  return results;
}

// One Run() of the C++ class on guarded args (the caller's buffers, RESULTS_..._ONLY).
Bytes RunClass(const Bytes& args, aotc::ThreadPool* pool) {
  AOTC_CLASS model(AOTC_CLASS::AllocMode::RESULTS_PROFILES_AND_TEMPS_ONLY);
  std::vector<Guarded*> buffers;
  for (size_t i = 0; i < AOTC_CLASS::kNumArgs; ++i) {
    buffers.push_back(new Guarded(args[i].size(), true));
    std::memcpy(buffers[i]->data(), args[i].data(), args[i].size());
    model.set_arg_data(i, buffers[i]->data());
  }
  if (pool != nullptr) model.set_thread_pool(pool);
  if (!model.Run()) {
    std::cerr << "Run failed: " << model.error_msg() << "\n";
    std::exit(1);
  }
  Bytes results(AOTC_CLASS::kNumResults);
  for (size_t i = 0; i < AOTC_CLASS::kNumResults; ++i) {
    const auto* p = static_cast<const unsigned char*>(model.result_data(i));
    results[i].assign(p, p + AOTC_CLASS::ResultSize(i));
  }
  for (Guarded* g : buffers) delete g;
  return results;
}

int Guard(int argc, char** argv) {
  if (static_cast<size_t>(argc) != AOTC_CLASS::kNumArgs + 3) {
    std::cerr << "guard: expected " << AOTC_CLASS::kNumArgs << " argument files and OUTDIR\n";
    return 2;
  }
  const Bytes args = ReadArgs(argv + 2);
  aotc::ThreadPool pool(4);
  const AotcRunOptions threaded = pool.run_options();
  const Bytes reference = RunGuarded(args, true, nullptr);
  const Bytes runs[] = {RunGuarded(args, false, nullptr), RunGuarded(args, true, &threaded),
                        RunGuarded(args, false, &threaded), RunClass(args, nullptr),
                        RunClass(args, &pool)};
  for (const Bytes& run : runs) {
    if (run != reference) {
      std::cerr << "runs differ\n";
      return 1;
    }
  }
  WriteResults(reference, argv[argc - 1]);
  return 0;
}

int Threads(int argc, char** argv) {
  if (argc < 4 || static_cast<size_t>(argc) != AOTC_CLASS::kNumArgs + 5) {
    std::cerr << "threads: expected N ITERATIONS, " << AOTC_CLASS::kNumArgs
              << " argument files and OUTDIR\n";
    return 2;
  }
  const int num_threads = std::atoi(argv[2]);
  const int iterations = std::atoi(argv[3]);
  const Bytes args = ReadArgs(argv + 4);
  const Bytes reference = RunClass(args, nullptr);
  aotc::ThreadPool pool(3);
  std::atomic<int> mismatches{0}, failures{0}, runs{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < num_threads; ++t) {
    threads.emplace_back([&, t] {
      AOTC_CLASS model;  // its own args, results and arena
      if (t % 2 == 1) model.set_thread_pool(&pool);
      for (int it = 0; it < iterations; ++it) {
        for (size_t i = 0; i < AOTC_CLASS::kNumArgs; ++i)
          std::memcpy(model.arg_data(i), args[i].data(), args[i].size());
        if (!model.Run()) {
          ++failures;
          return;
        }
        for (size_t i = 0; i < AOTC_CLASS::kNumResults; ++i)
          if (std::memcmp(model.result_data(i), reference[i].data(), reference[i].size()) != 0)
            ++mismatches;
        ++runs;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::cout << "runs " << runs.load() << " mismatches " << mismatches.load() << " failures "
            << failures.load() << "\n";
  WriteResults(reference, argv[argc - 1]);
  return mismatches.load() == 0 && failures.load() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "guard") return Guard(argc, argv);
  if (mode == "threads") return Threads(argc, argv);
  std::cerr << "usage: zoo_harness guard ARGS... OUTDIR | threads N ITERATIONS ARGS... OUTDIR\n";
  return 2;
}
