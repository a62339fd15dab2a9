#!/usr/bin/python3
"""How nnet's epoch time grows with training-set size and hidden width (should be linear in both).

Fashion-MNIST (60,000 training images), [784,H,10], batch 10, eta 0.1, no evaluation; per point
the median training seconds per epoch over `--epochs` epochs and `--rounds` runs. Prints two
markdown tables (n = 1k..60k at H = 30; H = 30..1000 at n = 10k) with time per image and per
image per hidden unit, whose flatness is the linearity check.

  /usr/bin/python3 bench/scaling.py [--nnet build-perf/nnet] [--rounds 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = "/usr/share/datasets/fashion-mnist"


def epoch_seconds(nnet, n, hidden, epochs, rounds, batch):
    per_round = []
    for _ in range(rounds):
        with tempfile.NamedTemporaryFile(suffix=".json") as h:
            subprocess.run([nnet, "train", "--data", DATA, "--sizes", "784,%d,10" % hidden,
                            "--batch", str(batch), "--eta", "0.1", "--epochs", str(epochs),
                            "--train-size", str(n), "--eval", "none", "--history", h.name,
                            "-q"], check=True, stdout=subprocess.DEVNULL)
            d = json.load(open(h.name))
        eps = d["epochs"] if isinstance(d, dict) else d
        per_round.append(statistics.median(e["train_seconds"] for e in eps))
    return statistics.median(per_round)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nnet", default=os.path.join(ROOT, "build-perf", "nnet"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=10)
    a = ap.parse_args()
    print("load average at start: %.2f %.2f %.2f\n" % os.getloadavg())
    print("Training-set size (hidden 30, batch %d):\n" % a.batch)
    print("| n | s/epoch | us/image |")
    print("|---:|---:|---:|")
    for n in (1000, 2000, 5000, 10000, 20000, 40000, 60000):
        s = epoch_seconds(a.nnet, n, 30, a.epochs, a.rounds, a.batch)
        print("| %d | %.4f | %.2f |" % (n, s, 1e6 * s / n), flush=True)
    print("\nHidden width (n = 10,000, batch %d):\n" % a.batch)
    print("| hidden | s/epoch | us/image | ns/(image*hidden) |")
    print("|---:|---:|---:|---:|")
    for h in (30, 100, 300, 1000):
        s = epoch_seconds(a.nnet, 10000, h, a.epochs, a.rounds, a.batch)
        print("| %d | %.4f | %.2f | %.1f |" % (h, s, 1e6 * s / 10000, 1e9 * s / 10000 / h),
              flush=True)
    print("\nload average at end: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
