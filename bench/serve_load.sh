#!/usr/bin/env bash
# Bounded load test of `nnet serve` on loopback (docs/serve.md, "Load"): trains a quick
# model, starts the server, runs bench/serve_load.cc's client (C keep-alive connections for S
# seconds, real MNIST test digits as 280x280 PNGs like the page sends), and prints throughput,
# p50/p99 latency, failures, and the server's RSS before, between and after the rounds (flat =
# no leak). Usage: bench/serve_load.sh [CLIENTS] [SECONDS] [ROUNDS] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-16} seconds=${2:-10} rounds=${3:-3} threads=${4:-4}
data=${NNET_SHARED_DATA:-../shared/data/mnist-first10k}
[ -d "$data" ] || data=/work/shared/data/mnist-first10k
[ -n "${NNET_NO_BUILD:-}" ] || cmake --build build -j2 --target nnet serve_load >/dev/null
bin=${NNET_BIN_DIR:-build}
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
"$bin"/nnet train --data "$data/mnist.pkl.gz" --sizes 784,100,10 --cost cross-entropy --init default \
  --eta 0.5 --epochs 3 --eval none --quiet --save "$tmp/model.json"
"$bin"/nnet serve --model "$tmp/model.json" --port 0 --threads "$threads" >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do grep -q http "$tmp/out" && break; sleep 0.05; done
port=$(grep -o '127.0.0.1:[0-9]*' "$tmp/out" | cut -d: -f2)
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
echo "server: $threads threads, port $port; $(nproc) cores; RSS at start $(rss) kB"
for r in $(seq "$rounds"); do
  for body in png json; do
    "$bin"/serve_load "$port" "$clients" "$seconds" "$data" "$body"
  done
  echo "after round $r: server RSS $(rss) kB"
done
kill -TERM "$pid"
wait "$pid"
echo "server exit status $?"
