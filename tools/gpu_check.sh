#!/bin/sh
# The CUDA backend on a real GPU: needs only g++ and the NVIDIA driver (no Python, no
# TensorFlow, no CUDA toolkit). DIR is what tools/prepare_gpu_check.py wrote on a
# development machine: per model the artifact (<name>.o, <name>.h, aotc_runtime.h),
# raw inputs and TensorFlow's outputs, and a line of manifest.txt:
#     <name> <C++ class> <rtol> <atol>
# Builds one runner per model (tools/gpu_check_runner.cc), runs it, prints one line per
# model (max error, median latency over 100 runs) and a summary; exits 1 on any failure.
#
#   tools/gpu_check.sh [DIR]        (default build/gpu_check)
set -u
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-build/gpu_check}
if [ ! -f "$dir/manifest.txt" ]; then
  echo "gpu_check: no $dir/manifest.txt; run tools/prepare_gpu_check.py first" >&2
  exit 2
fi
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
passed=0
failed=0
while read -r name class rtol atol; do
  model="$dir/$name"
  if ! g++ -O2 -std=c++17 -I"$model" -DAOTC_MODEL_HEADER="\"$name.h\"" -DAOTC_MODEL_CLASS="$class" \
      "$here/gpu_check_runner.cc" "$model/$name.o" -o "$model/runner" 2>"$model/build.log"; then
    echo "$name FAIL build (see $model/build.log)"
    failed=$((failed + 1))
    continue
  fi
  if timeout 120 "$model/runner" "$model" "$name" "$rtol" "$atol"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
done < "$dir/manifest.txt"
echo "gpu_check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
