#!/bin/sh
# One command for the whole comparison (see bench/compare.py --help); builds what it needs first.
#   bench/compare.sh [--workloads 1,2,3] [--rounds 3] [--json out.json]
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
cmake -S "$root" -B "$root/build-perf" -DCMAKE_BUILD_TYPE=Release -DNNET_BUILD_BENCH=ON >/dev/null
cmake --build "$root/build-perf" --target nnet peak_sgemm -j2 >/dev/null
exec /usr/bin/python3 "$root/bench/compare.py" --nnet "$root/build-perf/nnet" \
  --peak "$root/build-perf/bench/peak_sgemm" "$@"
