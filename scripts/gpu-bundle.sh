#!/usr/bin/env bash
# Packs what scripts/gpu-check.sh needs on a GPU machine that cannot build nnet (no cairo, no
# cpp-httplib there): the CUDA build's nnet and cuda_test, the Debian libraries they load (not
# glibc, not cuBLAS: the machine has its own), and MNIST's IDX files, into
# .gpu-carry/bundle.tar.xz (kept out of git by .git/info/exclude).
#   scripts/gpu-bundle.sh [BUILD_DIR] [DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
data=${2:-../shared/data/mnist-first10k}
grep -qx '/.gpu-carry/' .git/info/exclude 2>/dev/null || echo '/.gpu-carry/' >> .git/info/exclude
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$build/tests" "$stage/.gpu-carry/lib" "$stage/.gpu-carry/data"
cp "$build/nnet" "$stage/$build/"
cp "$build/tests/cuda_test" "$stage/$build/tests/"
strip "$stage/$build/nnet" "$stage/$build/tests/cuda_test"
for bin in "$build/nnet" "$build/tests/cuda_test"; do
  ldd "$bin" | awk '/=>/ {print $3}' | grep -v -E 'lib(c|m|dl|pthread|rt|cublas|cublasLt)\.so' || true
done | sort -u | while read -r lib; do cp -L "$lib" "$stage/.gpu-carry/lib/"; done
cp "$data"/*-idx?-ubyte.gz "$stage/.gpu-carry/data/"
mkdir -p .gpu-carry
tar -C "$stage" -cJf .gpu-carry/bundle.tar.xz .
ls -la .gpu-carry/bundle.tar.xz
