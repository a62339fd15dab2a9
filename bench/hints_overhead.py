#!/usr/bin/python3
"""The cost of watching a run's health (--hints on) on workload 1: `nnet train` defaults
([784,30,10], batch 10, eta 0.1, 30 epochs) on the shared data.

Runs `nnet train` with --hints on and --hints off alternately (on, off, off, on, ...) so the
shared machine's drift hits both alike, and reports two figures:
  * probe share: the probe's own time per epoch (history "health.seconds", measured inside the
    run) over that epoch's train + eval time; median over all epochs of all "on" runs;
  * wall share: median epoch time (train + eval seconds) of the "on" runs over that of the "off"
    runs, minus 1 (noisier: it includes the machine's noise).

  /usr/bin/python3 bench/hints_overhead.py --nnet build/nnet [--rounds 5] [--epochs 30]
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile


def run(nnet, data, hints, epochs, history):
    subprocess.run([nnet, "train", "--data", data, "--epochs", str(epochs), "--hints", hints,
                    "--history", history, "-q"], check=True, stdout=subprocess.DEVNULL)
    with open(history) as f:
        return json.load(f)["epochs"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--nnet", default="build/nnet")
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__),
                                                   "../../shared/data/mnist-first10k/mnist.pkl.gz"))
    ap.add_argument("--rounds", type=int, default=5, help="pairs of runs (on + off)")
    ap.add_argument("--epochs", type=int, default=30)
    a = ap.parse_args()
    if not os.path.exists(a.data):
        a.data = "/work/shared/data/mnist-first10k/mnist.pkl.gz"
    epoch_s = {"on": [], "off": []}
    train_s = {"on": [], "off": []}
    probe_share, probe_ms = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.rounds):
            order = ("on", "off") if i % 2 == 0 else ("off", "on")
            for hints in order:
                eps = run(a.nnet, a.data, hints, a.epochs, os.path.join(tmp, hints + ".json"))
                for e in eps:
                    t = e["train_seconds"] + e["eval_seconds"]
                    epoch_s[hints].append(t)
                    train_s[hints].append(e["train_seconds"])
                    if hints == "on":
                        probe_ms.append(1e3 * e["health"]["seconds"])
                        probe_share.append(e["health"]["seconds"] / t)
    med = statistics.median
    print(f"workload 1 ({a.epochs} epochs x {a.rounds} runs each, interleaved):")
    for h in ("off", "on"):
        print(f"  hints {h:3}: median epoch {1e3 * med(epoch_s[h]):.2f} ms "
              f"(train {1e3 * med(train_s[h]):.2f} ms)")
    print(f"  probe time per epoch: median {med(probe_ms):.3f} ms, max {max(probe_ms):.3f} ms")
    print(f"  probe share of epoch time: median {100 * med(probe_share):.2f}%, "
          f"90th percentile {100 * sorted(probe_share)[int(0.9 * len(probe_share))]:.2f}%")
    print(f"  wall share (median on / median off - 1): "
          f"{100 * (med(epoch_s['on']) / med(epoch_s['off']) - 1):+.2f}%")


if __name__ == "__main__":
    main()
