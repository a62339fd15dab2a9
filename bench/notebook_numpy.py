#!/usr/bin/python3
"""The notebook's own algorithm, timed: network.py's SGD (per-sample backprop in float64 numpy,
summed into nabla_b/nabla_w, then w - (eta/len(mini_batch)) nw), evaluated with argmax of
feedforward per test image. The network is tests/oracle/network_oracle.py's network.py; only the timing and the data
loading (IDX instead of the pickle, pixels byte/255 like nnet) differ.

Usage: notebook_numpy.py --data DIR --sizes 784,30,10 --epochs 2 --batch 10 --eta 0.1
"""
import os
import random
import sys
import time

import numpy as np

from common import emit, workload_args

# network.py itself lives once, in the test oracle; the benchmark times that very code.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "oracle"))
from network_oracle import Network, vectorized_result  # noqa: E402


def main():
    a, (xs, ys), (xt, yt) = workload_args()
    # mnist_loader.load_data_wrapper's layout: lists of (784,1) columns and (10,1) targets.
    training_data = [(np.reshape(x, (784, 1)), vectorized_result(y)) for x, y in zip(xs, ys)]
    test_data = [(np.reshape(x, (784, 1)), y) for x, y in zip(xt, yt)]
    del xs, ys, xt
    np.random.seed(a.seed)
    random.seed(a.seed)
    net = Network([int(s) for s in a.sizes.split(",")])
    n = len(training_data)
    epochs = []
    for j in range(a.epochs):
        t0 = time.perf_counter()
        random.shuffle(training_data)
        mini_batches = [training_data[k:k + a.batch] for k in range(0, n, a.batch)]
        for mini_batch in mini_batches:
            net.update_mini_batch(mini_batch, a.eta)
        t1 = time.perf_counter()
        correct = net.evaluate(test_data)
        t2 = time.perf_counter()
        epochs.append({"train_s": t1 - t0, "eval_s": t2 - t1, "correct": int(correct),
                       "total": len(test_data)})
    emit("notebook numpy", epochs, numpy=np.__version__)


if __name__ == "__main__":
    main()
