// Runs an artifact's C entry function with every buffer (args, results, the temp arena)
// placed against inaccessible guard pages: the buffer ends where a PROT_NONE page begins
// (rounded down to the 64-byte alignment the ABI asks for, so at most 63 bytes of slack)
// and another PROT_NONE page lies right before it. An out-of-bounds access by the
// generated code faults; built with -fsanitize=address,undefined the harness itself is
// checked too. Compiled with -DAOTC_HEADER='"model.h"' for an artifact named "model".
//   guarded_harness ARG0.bin ... ARGn.bin OUTDIR
#include AOTC_HEADER

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

// `size` bytes (64-byte aligned) followed immediately by a PROT_NONE page, with another
// PROT_NONE page before them.
void* guarded(size_t size) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t body = (size + 63 + page - 1) / page * page;
  char* base = static_cast<char*>(mmap(nullptr, body + 2 * page, PROT_READ | PROT_WRITE,
                                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (base == MAP_FAILED) { std::perror("mmap"); std::exit(3); }
  mprotect(base, page, PROT_NONE);
  char* end = base + page + body;
  mprotect(end, page, PROT_NONE);
  uintptr_t start = (reinterpret_cast<uintptr_t>(end) - size) & ~uintptr_t{63};
  return reinterpret_cast<void*>(start);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != MODEL_NUM_ARGS + 2) {
    std::cerr << "expected " << MODEL_NUM_ARGS << " argument files and an output directory\n";
    return 2;
  }
  std::vector<void*> args(MODEL_NUM_ARGS + 1), results(MODEL_NUM_RESULTS + 1);
  for (int i = 0; i < MODEL_NUM_ARGS; ++i) {
    args[i] = guarded(MODEL_ARG_SIZES[i]);
    std::ifstream in(argv[i + 1], std::ios::binary);
    in.read(static_cast<char*>(args[i]), static_cast<std::streamsize>(MODEL_ARG_SIZES[i]));
    if (static_cast<size_t>(in.gcount()) != MODEL_ARG_SIZES[i]) {
      std::cerr << "short read for argument " << i << "\n";
      return 2;
    }
  }
  for (int i = 0; i < MODEL_NUM_RESULTS; ++i) results[i] = guarded(MODEL_RESULT_SIZES[i]);
  void* temps = guarded(MODEL_TEMP_BYTES);
  if (int32_t status = model_entry(args.data(), results.data(), temps, nullptr)) {
    std::cerr << "entry failed: " << status << "\n";
    return 1;
  }
  for (int i = 0; i < MODEL_NUM_RESULTS; ++i) {
    std::ofstream out(std::string(argv[argc - 1]) + "/result" + std::to_string(i) + ".bin",
                      std::ios::binary);
    out.write(static_cast<const char*>(results[i]),
              static_cast<std::streamsize>(MODEL_RESULT_SIZES[i]));
  }
  return 0;
}
