#!/usr/bin/env bash
# Configures and builds nnet (Release) into ./build. Extra arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
# nnet-mpi (data-parallel training, docs/distributed.md) too when OpenMPI is installed.
mpi=()
command -v mpicxx >/dev/null 2>&1 && mpi=(-DNNET_MPI=ON)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "${mpi[@]}" "$@" >/dev/null
cmake --build build -j"$(nproc)"
echo "build: ./build/nnet${mpi:+ and ./build/nnet-mpi}"
