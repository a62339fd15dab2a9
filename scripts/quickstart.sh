#!/usr/bin/env bash
# README command 1: install, build, fetch the default MNIST digits, train the notebook's network.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
scripts/fetch-data.sh
./build/nnet train "$@"
