#!/usr/bin/python3
"""The book's network.py and network2.py (Michael Nielsen, "Neural Networks and Deep Learning"),
transcribed to Python 3 + numpy line for line, as the oracle for the C++ reference engine
(src/reference.cc). Run with Debian's /usr/bin/python3.

Prints exactly what the book's SGD prints (network.py: "Epoch 0: 9034 / 10000"; network2.py:
"Epoch 0 training complete", the monitor lines with repr() costs, a blank line), and with --dump
writes the final weights and biases as JSON (lists of floats, repr round-trips exactly).

Example (the notebook):  network_oracle.py --data mnist.pkl.gz --sizes 784,30,10 --epochs 3 \
    --batch 10 --eta 3.0 --numpy-seed 1 --python-seed 2 --train-n 1000 --eval-n 1000
"""
import argparse
import gzip
import json
import pickle
import random
import sys
import time

import numpy as np


# ---- mnist_loader.py ------------------------------------------------------------------------
def load_data(path):
    with gzip.open(path, "rb") as f:
        return pickle.load(f, encoding="latin1")


def vectorized_result(j):
    e = np.zeros((10, 1))
    e[j] = 1.0
    return e


def load_data_wrapper(path, train_n, eval_n, with_validation=False):
    tr_d, va_d, te_d = load_data(path)
    if with_validation:  # mnist-first10k: training + validation = the first 10,000 images
        tr_d = (np.concatenate([tr_d[0], va_d[0]]), np.concatenate([tr_d[1], va_d[1]]))
    training_inputs = [np.reshape(x, (784, 1)) for x in tr_d[0][:train_n]]
    training_results = [vectorized_result(y) for y in tr_d[1][:train_n]]
    training_data = list(zip(training_inputs, training_results))
    test_inputs = [np.reshape(x, (784, 1)) for x in te_d[0][:eval_n]]
    test_data = list(zip(test_inputs, te_d[1][:eval_n]))
    return training_data, test_data


# ---- network.py -----------------------------------------------------------------------------
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

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None, shuffle=None):
        if test_data:
            n_test = len(test_data)
        n = len(training_data)
        for j in range(epochs):
            shuffle(training_data)
            mini_batches = [training_data[k:k + mini_batch_size]
                            for k in range(0, n, mini_batch_size)]
            for mini_batch in mini_batches:
                self.update_mini_batch(mini_batch, eta)
            if test_data:
                print("Epoch {0}: {1} / {2}".format(j, self.evaluate(test_data), n_test))
            else:
                print("Epoch {0} complete".format(j))
            sys.stdout.flush()

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
        return (output_activations - y)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


# ---- network2.py ----------------------------------------------------------------------------
class QuadraticCost(object):
    @staticmethod
    def fn(a, y):
        return 0.5 * np.linalg.norm(a - y) ** 2

    @staticmethod
    def delta(z, a, y):
        return (a - y) * sigmoid_prime(z)


class CrossEntropyCost(object):
    @staticmethod
    def fn(a, y):
        return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        return (a - y)


class Network2(object):
    def __init__(self, sizes, cost=CrossEntropyCost):
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.default_weight_initializer()
        self.cost = cost

    def default_weight_initializer(self):
        self.biases = [np.random.randn(y, 1) for y in self.sizes[1:]]
        self.weights = [np.random.randn(y, x) / np.sqrt(x)
                        for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    def large_weight_initializer(self):
        self.biases = [np.random.randn(y, 1) for y in self.sizes[1:]]
        self.weights = [np.random.randn(y, x) for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    def feedforward(self, a):
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def SGD(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0, evaluation_data=None,
            monitor_evaluation_cost=False, monitor_evaluation_accuracy=False,
            monitor_training_cost=False, monitor_training_accuracy=False, shuffle=None):
        if evaluation_data:
            n_data = len(evaluation_data)
        n = len(training_data)
        evaluation_cost, evaluation_accuracy = [], []
        training_cost, training_accuracy = [], []
        for j in range(epochs):
            shuffle(training_data)
            mini_batches = [training_data[k:k + mini_batch_size]
                            for k in range(0, n, mini_batch_size)]
            for mini_batch in mini_batches:
                self.update_mini_batch(mini_batch, eta, lmbda, len(training_data))
            print("Epoch %s training complete" % j)
            if monitor_training_cost:
                cost = self.total_cost(training_data, lmbda)
                training_cost.append(cost)
                print("Cost on training data: {}".format(repr(float(cost))))
            if monitor_training_accuracy:
                accuracy = self.accuracy(training_data, convert=True)
                training_accuracy.append(accuracy)
                print("Accuracy on training data: {} / {}".format(accuracy, n))
            if monitor_evaluation_cost:
                cost = self.total_cost(evaluation_data, lmbda, convert=True)
                evaluation_cost.append(cost)
                print("Cost on evaluation data: {}".format(repr(float(cost))))
            if monitor_evaluation_accuracy:
                accuracy = self.accuracy(evaluation_data)
                evaluation_accuracy.append(accuracy)
                print("Accuracy on evaluation data: {} / {}".format(accuracy, n_data))
            print()
            sys.stdout.flush()
        return evaluation_cost, evaluation_accuracy, training_cost, training_accuracy

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        self.weights = [(1 - eta * (lmbda / n)) * w - (eta / len(mini_batch)) * nw
                        for w, nw in zip(self.weights, nabla_w)]
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
        delta = (self.cost).delta(zs[-1], activations[-1], y)
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            z = zs[-l]
            sp = sigmoid_prime(z)
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return (nabla_b, nabla_w)

    def accuracy(self, data, convert=False):
        if convert:
            results = [(np.argmax(self.feedforward(x)), np.argmax(y)) for (x, y) in data]
        else:
            results = [(np.argmax(self.feedforward(x)), y) for (x, y) in data]
        return sum(int(x == y) for (x, y) in results)

    def total_cost(self, data, lmbda, convert=False):
        cost = 0.0
        for x, y in data:
            a = self.feedforward(x)
            if convert:
                y = vectorized_result(y)
            cost += self.cost.fn(a, y) / len(data)
        cost += 0.5 * (lmbda / len(data)) * sum(np.linalg.norm(w) ** 2 for w in self.weights)
        return cost


# ---- driver ---------------------------------------------------------------------------------
def py2_shuffle(x):
    # Python 2.7's random.shuffle (the book ran on 2.7): j = int(random() * (i+1)).
    for i in reversed(range(1, len(x))):
        j = int(random.random() * (i + 1))
        x[i], x[j] = x[j], x[i]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--sizes", default="784,30,10")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--eta", type=float, default=3.0)
    p.add_argument("--lmbda", type=float, default=0.0)
    p.add_argument("--numpy-seed", type=int, default=0)
    p.add_argument("--python-seed", type=int, default=0)
    p.add_argument("--train-n", type=int, default=None)
    p.add_argument("--eval-n", type=int, default=None)
    p.add_argument("--with-validation", action="store_true",
                   help="train on training + validation splits (timing the notebook workload)")
    p.add_argument("--network2", action="store_true")
    p.add_argument("--cost", choices=["quadratic", "cross-entropy"], default="cross-entropy")
    p.add_argument("--init", choices=["large", "default"], default="default")
    p.add_argument("--python2-shuffle", action="store_true")
    p.add_argument("--monitor", default="",
                   help="comma list of training-cost,training-accuracy,evaluation-cost,"
                        "evaluation-accuracy (network2)")
    p.add_argument("--no-eval", action="store_true", help="network.py without test_data")
    p.add_argument("--dump", help="write final weights/biases here as JSON")
    p.add_argument("--time", action="store_true", help="print seconds per epoch on stderr")
    a = p.parse_args()

    sizes = [int(s) for s in a.sizes.split(",")]
    training_data, test_data = load_data_wrapper(a.data, a.train_n, a.eval_n, a.with_validation)
    shuffle = py2_shuffle if a.python2_shuffle else random.shuffle
    random.seed(a.python_seed)
    np.random.seed(a.numpy_seed)
    t0 = time.time()
    if a.network2:
        cost = CrossEntropyCost if a.cost == "cross-entropy" else QuadraticCost
        net = Network2(sizes, cost=cost)
        if a.init == "large":
            net.large_weight_initializer()
        mon = set(m for m in a.monitor.split(",") if m)
        net.SGD(training_data, a.epochs, a.batch, a.eta, lmbda=a.lmbda,
                evaluation_data=test_data,
                monitor_evaluation_cost="evaluation-cost" in mon,
                monitor_evaluation_accuracy="evaluation-accuracy" in mon,
                monitor_training_cost="training-cost" in mon,
                monitor_training_accuracy="training-accuracy" in mon, shuffle=shuffle)
    else:
        net = Network(sizes)
        net.SGD(training_data, a.epochs, a.batch, a.eta,
                test_data=None if a.no_eval else test_data, shuffle=shuffle)
    if a.time:
        sys.stderr.write("seconds per epoch: %.3f\n" % ((time.time() - t0) / a.epochs))
    if a.dump:
        with open(a.dump, "w") as f:
            json.dump({"weights": [w.tolist() for w in net.weights],
                       "biases": [b.ravel().tolist() for b in net.biases]}, f)


if __name__ == "__main__":
    main()
