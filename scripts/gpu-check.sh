#!/usr/bin/env bash
# Every GPU check in one run, for a machine with an NVIDIA GPU (the H200 the project borrows):
# the device tests (tests/cuda_test.cc: layer kinds against float64, gradient checks on the device,
# determinism, resume, curves beside the CPU) and the benchmark against PyTorch
# (bench/gpu_bench.sh). Logs and results go to OUTDIR; a summary is printed last. ~4 minutes.
#   scripts/gpu-check.sh OUTDIR [--ch6]      (--ch6: also every chapter-6 recipe at full length)
# Binaries: build/ as built here, or unpacked from .gpu-carry/bundle.tar.xz
# (scripts/gpu-bundle.sh) on a machine that cannot build nnet.
set -uo pipefail
out=${1:?usage: gpu-check.sh OUTDIR [--ch6]}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
root=$PWD
if [ -f .gpu-carry/bundle.tar.xz ]; then
  tar -xJf .gpu-carry/bundle.tar.xz -C "$root"
  export LD_LIBRARY_PATH="$root/.gpu-carry/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # The tests were built in /work/main: their baked paths lead here.
  [ -e /work/main ] || { mkdir -p /work && ln -s "$root" /work/main; }
fi
# cuBLAS (opened at run time for evaluation's products): the machine's toolkit, else PyTorch's.
if ! ldconfig -p | grep -q libcublas.so.13 && [ ! -e /usr/local/cuda/lib64/libcublas.so.13 ]; then
  lib=$(find / -name 'libcublas.so.13' -not -path '/proc/*' 2>/dev/null | head -n 1)
  [ -n "$lib" ] && export LD_LIBRARY_PATH="$(dirname "$lib"):${LD_LIBRARY_PATH:-}"
fi
data=${NNET_GPU_DATA:-$root/.gpu-carry/data}
export NNET_GPU_DATA=$data
{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
  ldd build/nnet | grep -E 'not found'
  echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
} > "$out/machine.txt" 2>&1
status=0
timeout 200 build/tests/cuda_test 2>&1 | tee "$out/cuda_test.log" | grep -E '^\[  (FAILED|PASSED|SKIPPED) |^  (float|gradient|notebook|two-conv)' || true
grep -q '^\[  PASSED  \]' "$out/cuda_test.log" && ! grep -q '^\[  FAILED  \]' "$out/cuda_test.log" || status=1
timeout 180 bench/gpu_bench.sh "$root/build/nnet" "$data" 5 > "$out/bench.log" 2>&1 || status=1
if [ "${2:-}" = --ch6 ]; then
  timeout 600 bench/gpu_ch6.sh "$root/build/nnet" "$data" "$out/ch6" > "$out/ch6.log" 2>&1 || status=1
  cat "$out/ch6.log"
fi
echo "== cuda_test"; grep -E '^\[  (FAILED|PASSED) ' "$out/cuda_test.log"
echo "== bench"; tail -n 6 "$out/bench.log"
exit $status
