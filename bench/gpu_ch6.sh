#!/usr/bin/env bash
# Every chapter-6 recipe of `nnet book` at the book's full epoch counts on the GPU, one after
# another, with the wall time of each and of all together.
#   bench/gpu_ch6.sh NNET DATA_DIR OUTDIR [RECIPES...]
# DATA_DIR: MNIST's four IDX .gz files (9,000 training images after --validation-size 1000, the
# 10,000 test images evaluated). OUTDIR gets each recipe's lines and history, and ch6.md: final and
# peak test accuracy and minutes, beside the book's figure.
set -euo pipefail
nnet=${1:?usage: gpu_ch6.sh NNET DATA_DIR OUTDIR [RECIPES...]}
data=${2:?}
out=${3:?}
shift 3
recipes=("$@")
[ ${#recipes[@]} -gt 0 ] || recipes=(ch6-fc100 ch6-conv1 ch6-conv2 ch6-relu ch6-expanded ch6-extra-fc ch6-dropout ch6-ensemble)
mkdir -p "$out"
cd "$out"
start=$(date +%s.%N)
for r in "${recipes[@]}"; do
  t0=$(date +%s.%N)
  if [ "$r" = ch6-ensemble ]; then
    "$nnet" book "$r" --device cuda --data "$data" --validation-size 1000 -q > "$r.out" 2> "$r.err"
  else
    "$nnet" book "$r" --device cuda --data "$data" --validation-size 1000 -q --history "$r.json" > "$r.out" 2> "$r.err"
  fi
  t1=$(date +%s.%N)
  echo "$r $(echo "$t1 - $t0" | bc)" >> times.txt
  echo "$r: $(tail -n 1 "$r.out") ($(echo "$t1 - $t0" | bc) s)"
done
end=$(date +%s.%N)
echo "all: $(echo "$end - $start" | bc) s" | tee -a times.txt
