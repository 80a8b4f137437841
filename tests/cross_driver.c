/* Runs an object compiled by tests/compiled.py for another architecture (under qemu):
 *   driver TEMP_BYTES NUM_ARGS ARG0.bin SIZE0 ... RESULT0.bin SIZE0 ...
 * reads each argument into a 64-byte-aligned buffer, calls the entry function once and
 * writes each result to its file. Exit status 1 when the entry returns an error. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int32_t aotc_test_entry(void* const* args, void* const* results, void* temps, const void* options);

static void* allocate(size_t size) { return aligned_alloc(64, (size + 63) / 64 * 64 + 64); }

int main(int argc, char** argv) {
  size_t temp_bytes = strtoull(argv[1], NULL, 10);
  int num_args = atoi(argv[2]);
  int num_results = (argc - 3 - 2 * num_args) / 2;
  void** args = calloc(num_args + 1, sizeof(void*));
  void** results = calloc(num_results + 1, sizeof(void*));
  for (int i = 0; i < num_args; ++i) {
    size_t size = strtoull(argv[4 + 2 * i], NULL, 10);
    FILE* in = fopen(argv[3 + 2 * i], "rb");
    args[i] = allocate(size);
    if (!in || fread(args[i], 1, size, in) != size) return 2;
    fclose(in);
  }
  char** result_argv = argv + 3 + 2 * num_args;
  for (int i = 0; i < num_results; ++i) results[i] = allocate(strtoull(result_argv[2 * i + 1], NULL, 10));
  if (aotc_test_entry(args, results, allocate(temp_bytes), NULL) != 0) return 1;
  for (int i = 0; i < num_results; ++i) {
    size_t size = strtoull(result_argv[2 * i + 1], NULL, 10);
    FILE* out = fopen(result_argv[2 * i], "wb");
    if (!out || fwrite(results[i], 1, size, out) != size) return 2;
    fclose(out);
  }
  return 0;
}
