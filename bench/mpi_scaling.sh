#!/usr/bin/env bash
# Per-epoch training time of nnet and nnet-mpi on this machine (docs/distributed.md):
#   bench/mpi_scaling.sh [BUILD_DIR]   (needs -DNNET_MPI=ON and the shared MNIST data)
# Dense: the notebook's [784,30,10], batch 10, eta 0.1, mnist.pkl.gz's 9,000 training images.
# Conv: the book's two-conv net at batch 10 and 64 on the first 2,000 training images.
# Each line: what ran, then the per-epoch training seconds rank 0 reports (its stderr).
set -euo pipefail
B=${1:-build}
DATA=${NNET_SHARED_DATA:-/work/shared/data/mnist-first10k}/mnist.pkl.gz
MPIRUN=(mpirun --oversubscribe --allow-run-as-root --mca btl_vader_single_copy_mechanism none)
epoch_times() { grep -o 'train [0-9.]* s' | awk '{printf "%s ", $2} END {print ""}'; }
run() {  # run LABEL K ARGS... (K = 0: plain nnet)
  local label=$1 k=$2
  shift 2
  if [ "$k" -eq 0 ]; then
    printf '%-44s ' "$label"; "$B/nnet" "$@" 2>&1 >/dev/null | epoch_times
  else
    printf '%-44s ' "$label"; "${MPIRUN[@]}" -np "$k" "$B/nnet-mpi" "$@" 2>&1 >/dev/null | epoch_times
  fi
}
DENSE=(train --data "$DATA" --epochs 3 --batch 10 --eta 0.1 --eval none)
run "dense b10: nnet (fused step)" 0 "${DENSE[@]}"
run "dense b10: nnet --grad-chunk 5" 0 "${DENSE[@]}" --grad-chunk 5
run "dense b10: nnet-mpi -np 1 --grad-chunk 5" 1 "${DENSE[@]}" --grad-chunk 5
run "dense b10: nnet-mpi -np 2 --grad-chunk 5" 2 "${DENSE[@]}" --grad-chunk 5
CONV=(train --data "$DATA" --epochs 2 --eta 0.03 --eval none --train-size 2000
  --layers conv:20:5,maxpool:2,conv:40:5,maxpool:2,fc:100,softmax:10 --activation relu)
run "conv b10: nnet" 0 "${CONV[@]}" --batch 10
run "conv b10: nnet --grad-chunk 5" 0 "${CONV[@]}" --batch 10 --grad-chunk 5
run "conv b10: nnet-mpi -np 2 --grad-chunk 5" 2 "${CONV[@]}" --batch 10 --grad-chunk 5
run "conv b64: nnet" 0 "${CONV[@]}" --batch 64
run "conv b64: nnet --grad-chunk 32" 0 "${CONV[@]}" --batch 64 --grad-chunk 32
run "conv b64: nnet-mpi -np 2 --grad-chunk 32" 2 "${CONV[@]}" --batch 64 --grad-chunk 32
