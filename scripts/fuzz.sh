#!/bin/sh
# Builds the libFuzzer targets (fuzz/) with clang in build-fuzz and runs each for N seconds
# (default 30), seeded from the shared MNIST heads, files a tiny `nnet train` writes (when ./build/nnet
# exists; override with NNET_BINARY) and the known bad cases. Exits 1 after all targets ran when any
# of them crashed, printing the crash report.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (targets: pickle_fuzz idx_fuzz gzip_fuzz
#   model_json_fuzz model_hdf5_fuzz model_frame_fuzz history_fuzz image_fuzz checkpoint_fuzz)
# Crashes land in build-fuzz/artifacts/; the grown corpus is kept in build-fuzz/corpus/.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-fuzz
seconds=${1:-30}
[ $# -gt 0 ] && shift
targets=${*:-pickle_fuzz idx_fuzz gzip_fuzz model_json_fuzz model_hdf5_fuzz model_frame_fuzz \
  history_fuzz image_fuzz checkpoint_fuzz}
jobs=${JOBS:-2}

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNNET_FUZZ=ON \
  -DNNET_BUILD_TESTS=OFF -DNNET_NATIVE=OFF -DNNET_PYTHON=OFF -DNNET_CUDA=OFF >"$build.cmake.log" 2>&1 ||
  { cat "$build.cmake.log" >&2; exit 1; }
# shellcheck disable=SC2086
cmake --build "$build" --target $targets -j"$jobs"

shared=${NNET_SHARED_DATA:-$root/../shared/data/mnist-first10k}
[ -d "$shared" ] || shared=""
NNET_BINARY=${NNET_BINARY:-$root/build/nnet} /usr/bin/python3 "$root/fuzz/make_seeds.py" \
  "$build/seeds" $shared

mkdir -p "$build/artifacts"
status=0
for t in $targets; do
  kind=${t%_fuzz}
  mkdir -p "$build/corpus/$kind"
  echo "== $t for ${seconds}s"
  # libhdf5 (Debian's, not ours) mallocs whatever size a corrupt header names and copes with NULL;
  # the reader runs in a child under an address-space limit, so let those mallocs fail as glibc's
  # would there instead of stopping the fuzzer (the parent's RSS limit still holds).
  asan=${ASAN_OPTIONS:-}
  extra=""
  if [ "$t" = model_hdf5_fuzz ]; then
    asan="allocator_may_return_null=1${asan:+:$asan}"
    extra="-malloc_limit_mb=1048576"
  fi
  # shellcheck disable=SC2086
  if ! ASAN_OPTIONS=$asan "$build/fuzz/$t" "$build/corpus/$kind" "$build/seeds/$kind" \
      -max_total_time="$seconds" -timeout=10 -max_len=65536 -rss_limit_mb=2048 $extra \
      -artifact_prefix="$build/artifacts/$t-" -print_final_stats=1 >"$build/$t.log" 2>&1; then
    status=1
    echo "$t: CRASH, see $build/$t.log and $build/artifacts/" >&2
    grep -A 30 -E "^==[0-9]+==ERROR|runtime error|deadly signal" "$build/$t.log" | head -n 40 >&2 || true
  fi
  grep -E "^stat::number_of_executed_units|^stat::average_exec_per_sec|^stat::new_units_added|^#[0-9]+ *DONE" \
    "$build/$t.log" || tail -n 5 "$build/$t.log"
done
exit $status
