// One model of the GPU check (tools/gpu_check.sh): runs a CUDA artifact on its inputs,
// compares every result with TensorFlow's (raw little-endian float32 files) and times
// Run() (host buffers in and out, copies included).
//
//   g++ -O2 -std=c++17 -I<model dir> -DAOTC_MODEL_HEADER='"<name>.h"' \
//       -DAOTC_MODEL_CLASS=<ns::Class> gpu_check_runner.cc <name>.o -o runner
//   ./runner <model dir> <name> <rtol> <atol>
//
// Prints one line: "<name> ok|FAIL max_abs_err=... median_ms=... runs=100" (or the
// error), and exits 0 only when every result is within rtol/atol.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include AOTC_MODEL_HEADER

namespace {

bool ReadFile(const std::string& path, void* data, size_t size) {
  std::ifstream in(path, std::ios::binary);
  if (!in.read(static_cast<char*>(data), static_cast<std::streamsize>(size))) return false;
  return in.peek() == std::ifstream::traits_type::eof();  // exactly `size` bytes
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s DIR NAME RTOL ATOL\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1], name = argv[2];
  const double rtol = std::atof(argv[3]), atol = std::atof(argv[4]);
  AOTC_MODEL_CLASS model;
  for (size_t i = 0; i < model.kNumArgs; ++i) {
    if (!ReadFile(dir + "/input" + std::to_string(i) + ".bin", model.arg_data(i), model.ArgSize(i))) {
      std::printf("%s FAIL cannot read input%zu.bin (%zu bytes)\n", name.c_str(), i, model.ArgSize(i));
      return 1;
    }
  }
  if (!model.Run()) {
    std::printf("%s FAIL Run(): %s\n", name.c_str(), model.error_msg().c_str());
    return 1;
  }
  double max_error = 0;
  bool ok = true;
  for (size_t r = 0; r < model.kNumResults; ++r) {
    const size_t count = model.ResultSize(r) / sizeof(float);
    std::vector<float> expected(count);
    if (!ReadFile(dir + "/expected" + std::to_string(r) + ".bin", expected.data(), count * sizeof(float))) {
      std::printf("%s FAIL cannot read expected%zu.bin\n", name.c_str(), r);
      return 1;
    }
    const float* got = static_cast<const float*>(model.result_data(r));
    for (size_t k = 0; k < count; ++k) {
      const double error = std::fabs(static_cast<double>(got[k]) - expected[k]);
      max_error = std::max(max_error, error);
      if (!(error <= atol + rtol * std::fabs(static_cast<double>(expected[k])))) ok = false;
    }
  }
  std::vector<double> times;
  for (int run = 0; run < 103; ++run) {
    const auto start = std::chrono::steady_clock::now();
    if (!model.Run()) {
      std::printf("%s FAIL Run() #%d: %s\n", name.c_str(), run, model.error_msg().c_str());
      return 1;
    }
    const auto stop = std::chrono::steady_clock::now();
    if (run >= 3) times.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
  }
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  std::printf("%s %s max_abs_err=%.3g median_ms=%.4f runs=%zu\n", name.c_str(), ok ? "ok" : "FAIL",
              max_error, times[times.size() / 2], times.size());
  return ok ? 0 : 1;
}
