#!/usr/bin/python3
"""Per-epoch time of the Python module on workload 1 (the notebook's [784, 30, 10], batch 10,
eta 3.0, evaluated on the 10,000 test images every epoch) against `nnet train` and
scikit-learn's MLPClassifier, interleaved round by round (the machine is shared): medians.

  PYTHONPATH=build/python /usr/bin/python3 bench/python_bench.py \\
      --data ../shared/data/mnist-first10k/mnist.pkl.gz --nnet build/nnet --rounds 5 --epochs 3

Per epoch, in seconds:
  cli       `nnet train` (its --history train_seconds + eval_seconds: the epoch's own work)
  sgd       Network.SGD on the notebook's list of (784x1, 10x1) tuples: wall time of the call
            (tuple conversion included) / epochs
  fit       Network.fit on the (n, 784) float32 arrays of nnet.load_data: wall / epochs
  sklearn   MLPClassifier(solver='sgd', activation='logistic', batch_size=10,
            hidden_layer_sizes=(30,), learning_rate_init=0.5, momentum=0, alpha=0): partial_fit
            (one epoch) + score on the test set, wall, in a child process (a fresh OpenBLAS)
  *_engine  the same runs' own train_seconds + eval_seconds (nnet's figures, no Python)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

import nnet


def cli_epoch(a, tmp):
    hist = os.path.join(tmp, "h.json")
    subprocess.run([a.nnet, "train", "--data", a.data, "--epochs", str(a.epochs), "--batch", "10",
                    "--eta", "3.0", "--history", hist, "-q"], check=True,
                   stdout=subprocess.DEVNULL)
    with open(hist) as f:
        h = json.load(f)
    ep = h["epochs"]
    return [e["train_seconds"] + e["eval_seconds"] for e in ep], ep[-1]["evaluation_correct"]


def sklearn_epochs(X, y, Xt, yt, epochs):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    clf = MLPClassifier(solver="sgd", activation="logistic", batch_size=10,
                        hidden_layer_sizes=(30,), learning_rate_init=0.5, momentum=0.0,
                        nesterovs_momentum=False, alpha=0.0, random_state=1)
    X, Xt = np.array(X), np.array(Xt)  # writeable copies, as a user would hand them over
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(epochs):
            t0 = time.perf_counter()
            clf.partial_fit(X, y, classes=np.arange(10))
            correct = int(round(clf.score(Xt, yt) * len(yt)))
            times.append(time.perf_counter() - t0)
    print(json.dumps({"times": times, "correct": correct}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="mnist.pkl.gz")
    ap.add_argument("--nnet", default="build/nnet")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--sklearn-epochs", type=int, default=1)
    ap.add_argument("--sklearn-only", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    (X, y), _, (Xt, yt) = nnet.load_data(a.data)
    if a.sklearn_only:
        return sklearn_epochs(X, y, Xt, yt, a.sklearn_epochs)
    training = nnet.notebook_format(X, y)
    test = nnet.notebook_format(Xt, yt, one_hot=False)
    # The notebook's own arrays: float32 columns from the pickle, float64 one-hot targets.
    training = [(x, t.astype(np.float64)) for x, t in training]
    try:
        import sklearn  # noqa: F401
        has_sklearn = True
    except ImportError:
        has_sklearn = False
    res = {"cli": [], "sgd": [], "fit": [], "sklearn": [], "sgd_engine": [], "fit_engine": []}
    acc = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            per, acc["cli"] = cli_epoch(a, tmp)
            res["cli"].append(statistics.median(per))

            net = nnet.Network([784, 30, 10])
            t0 = time.perf_counter()
            net.SGD(training, a.epochs, 10, 3.0, test_data=test, verbose=False)
            res["sgd"].append((time.perf_counter() - t0) / a.epochs)
            res["sgd_engine"].append(statistics.median(
                h["train_seconds"] + h["eval_seconds"] for h in net.history_))
            acc["sgd"] = net.history_[-1]["evaluation_correct"]

            net = nnet.Network([784, 30, 10])
            t0 = time.perf_counter()
            net.fit(X, y, epochs=a.epochs, batch_size=10, eta=3.0, validation_data=(Xt, yt))
            res["fit"].append((time.perf_counter() - t0) / a.epochs)
            res["fit_engine"].append(statistics.median(
                h["train_seconds"] + h["eval_seconds"] for h in net.history_))
            acc["fit"] = net.history_[-1]["evaluation_correct"]

            if has_sklearn:  # in its own process: OpenBLAS threads it leaves spinning
                # would otherwise slow down the nnet runs that follow
                r_sk = subprocess.run([sys.executable, __file__, "--data", a.data,
                                       "--sklearn-only", "--sklearn-epochs",
                                       str(a.sklearn_epochs)], check=True,
                                      capture_output=True, text=True)
                sk = json.loads(r_sk.stdout)
                res["sklearn"].append(statistics.median(sk["times"]))
                acc["sklearn"] = sk["correct"]
            print(f"round {r}: " + ", ".join(f"{k} {v[-1]:.4f} s" for k, v in res.items() if v),
                  file=sys.stderr, flush=True)
    med = {k: statistics.median(v) for k, v in res.items() if v}
    out = {"per_epoch_s": med, "rounds": a.rounds, "epochs": a.epochs,
           "final_correct": acc,
           "sgd_over_cli": med["sgd"] / med["cli"], "fit_over_cli": med["fit"] / med["cli"]}
    if "sklearn" in med:
        out["sklearn_over_fit"] = med["sklearn"] / med["fit"]
        out["sklearn_over_sgd"] = med["sklearn"] / med["sgd"]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
