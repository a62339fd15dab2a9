#!/usr/bin/env bash
# nnet --device cuda against PyTorch (eager and CUDA graphs) on the same GPU and data, per epoch:
# 9,000 training images at batch B, then the 10,000 test images evaluated; fp32, TF32 off.
#   bench/gpu_bench.sh NNET DATA_DIR [EPOCHS]
# DATA_DIR holds MNIST's four IDX .gz files (the first 10,000 training images). Prints a table;
# the per-epoch figure is the median over the epochs after the first (which captures the graphs).
set -euo pipefail
nnet=${1:?usage: gpu_bench.sh NNET DATA_DIR [EPOCHS]}
data=${2:?usage: gpu_bench.sh NNET DATA_DIR [EPOCHS]}
epochs=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
py=${PYTHON:-python3}

twoconv="--layers conv:20:5,maxpool:2,conv:40:5,maxpool:2,fc:100,softmax:10 --activation relu --eta 0.03 --lambda 0.1 --init network3 --cost log-likelihood --l2-style network3"
nnet_run() {  # name batch flags...
  local name=$1 batch=$2
  shift 2
  "$nnet" train --device cuda -q --data "$data" --validation-size 1000 --eval test --epochs "$epochs" \
    --batch "$batch" --hints off --history "$tmp/$name-$batch.json" "$@" > "$tmp/$name-$batch.out"
  "$py" - "$tmp/$name-$batch.json" "$name" "$batch" <<'PY'
import json, statistics, sys
h = json.load(open(sys.argv[1]))
e = h["epochs"]
t = [x["train_seconds"] + x["eval_seconds"] for x in e]
tr = [x["train_seconds"] for x in e]
ev = [x["eval_seconds"] for x in e]
med = lambda v: statistics.median(v[1:] if len(v) > 1 else v)
last = e[-1]
print(json.dumps({"contender": "nnet-cuda", "net": sys.argv[2], "batch": int(sys.argv[3]),
                  "epoch_s": med(t), "train_s": med(tr), "eval_s": med(ev),
                  "steps_per_epoch": (9000 + int(sys.argv[3]) - 1) // int(sys.argv[3]),
                  "first_epoch_s": t[0], "epochs": len(e),
                  "accuracy": last["evaluation_correct"] / last["evaluation_total"]}))
PY
}
{
  nnet_run twoconv 10 $twoconv
  nnet_run twoconv 64 $twoconv
  nnet_run notebook 10 --sizes 784,30,10 --eta 3.0
  "$py" "$here/torch_gpu.py" --data "$data" --epochs "$epochs"
} | tee "$tmp/all.jsonl"
"$py" - "$tmp/all.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
goal = {("twoconv", 10): 0.040, ("twoconv", 64): 0.015, ("notebook", 10): 0.006}
print()
print("| net | batch | nnet cuda | (train + eval) | PyTorch eager | PyTorch graphs | goal |")
print("|---|---|---|---|---|---|---|")
for (net, batch), g in goal.items():
    get = lambda c: next((r for r in rows if r["contender"] == c and r["net"] == net and r["batch"] == batch), None)
    n, e, gr = get("nnet-cuda"), get("pytorch-eager"), get("pytorch-graphs")
    f = lambda r: f"{r['epoch_s']:.4f} s" if r else "-"
    split = f"{n['train_s']:.4f} + {n['eval_s']:.4f}" if n else "-"
    print(f"| {net} | {batch} | {f(n)} | {split} | {f(e)} | {f(gr)} | <= {g} s |")
PY
