#!/usr/bin/python3
"""The notebook's own algorithm, timed: network.py's SGD (per-sample backprop in float64 numpy,
summed into nabla_b/nabla_w, then w - (eta/len(mini_batch)) nw), evaluated with argmax of
feedforward per test image. Code transcribed from network.py; only the timing and the data
loading (IDX instead of the pickle, pixels byte/255 like nnet) differ.

Usage: notebook_numpy.py --data DIR --sizes 784,30,10 --epochs 2 --batch 10 --eta 0.1
"""
import argparse
import random
import time

import numpy as np

from common import emit, load_idx_split


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


class Network(object):
    def __init__(self, sizes):
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.biases = [np.random.randn(y, 1) for y in sizes[1:]]
        self.weights = [np.random.randn(y, x) for x, y in zip(sizes[:-1], sizes[1:])]

    def feedforward(self, a):
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def update_mini_batch(self, mini_batch, eta):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        self.weights = [w - (eta / len(mini_batch)) * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x, y):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            z = zs[-l]
            sp = sigmoid_prime(z)
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return (nabla_b, nabla_w)

    def evaluate(self, test_data):
        test_results = [(np.argmax(self.feedforward(x)), y) for (x, y) in test_data]
        return sum(int(x == y) for (x, y) in test_results)

    def cost_derivative(self, output_activations, y):
        return output_activations - y


def vectorized_result(j):
    e = np.zeros((10, 1))
    e[j] = 1.0
    return e


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--sizes", default="784,30,10")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--eta", type=float, default=0.1)
    ap.add_argument("--train-size", type=int, default=None)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    xs, ys = load_idx_split(a.data, "train", a.train_size)
    xt, yt = load_idx_split(a.data, "t10k")
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
