"""The Python module on the notebook's data format; skips without the shared MNIST data."""
import os
import subprocess
import sys

import numpy as np
import pytest

import nnet

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.environ.get("NNET_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data",
                                                       "mnist-first10k"))
PKL = os.path.join(DATA, "mnist.pkl.gz")
need_data = pytest.mark.skipif(not os.path.exists(PKL), reason="shared MNIST data absent")


@need_data
def test_sgd_prints_the_cli_lines(capsys):
    (X, y), _, (Xt, yt) = nnet.load_data(PKL)
    net = nnet.Network([784, 30, 10])
    net.SGD(nnet.notebook_format(X, y), 2, 10, 3.0,
            test_data=nnet.notebook_format(Xt, yt, one_hot=False))
    out = capsys.readouterr().out
    cli = subprocess.run([os.environ.get("NNET_BINARY", os.path.join(ROOT, "build", "nnet")),
                          "train", "--data", PKL, "--eta", "3.0", "--epochs", "2", "-q"],
                         capture_output=True, text=True, check=True).stdout
    assert out == cli and out.startswith("Epoch 0: ")


@need_data
def test_load_data_and_fit_copy_nothing():
    (X, y), _, _ = nnet.load_data(PKL)
    assert X.dtype == np.float32 and X.shape[1] == 784 and not X.flags.writeable
    net = nnet.Network([784, 30, 10])
    net.fit(X[:1000], y[:1000], epochs=1)
    data = nnet._arrays(X, y)
    assert np.shares_memory(data.images(), X)


def test_weights_are_views_and_assignable():
    net = nnet.Network([4, 3, 2])
    assert [w.shape for w in net.weights] == [(3, 4), (2, 3)]
    assert [b.shape for b in net.biases] == [(3, 1), (2, 1)]
    ws = [np.random.randn(3, 4), np.random.randn(2, 3)]
    net.weights = ws
    np.testing.assert_allclose(net.weights[1], ws[1].astype(np.float32))
    with pytest.raises(ValueError, match="expected shape"):
        net.weights = [np.zeros((4, 3)), np.zeros((2, 3))]


def test_bad_input_raises():
    with pytest.raises(FileNotFoundError):
        nnet.load_data("/nonexistent/mnist.pkl.gz")
    with pytest.raises(ValueError):
        nnet.Network([784, 30, 10], cost="nope")
    net = nnet.Network([4, 3, 2])
    with pytest.raises(ValueError, match="data item 1"):
        net.SGD([(np.zeros((4, 1)), 0), (np.zeros((3, 1)), 1)], 1, 1, 1.0)


def test_save_load_round_trip(tmp_path):
    net = nnet.Network([4, 3, 2], seed=7)
    p = tmp_path / "m.json"
    net.save(p)
    back = nnet.load(p)
    for a, b in zip(net.weights + net.biases, back.weights + back.biases):
        np.testing.assert_array_equal(a, b)


def test_sigint_raises_keyboard_interrupt_mid_training():
    code = r"""
import os, signal, sys, threading, numpy as np, nnet
X = np.random.rand(200000, 784).astype(np.float32); y = np.random.randint(0, 10, 200000)
net = nnet.Network([784, 30, 10])
threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
try:
    net.fit(X, y, epochs=50)
except KeyboardInterrupt:
    print("interrupted", np.isfinite(net.weights[0]).all()); sys.exit(0)
print("finished"); sys.exit(1)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "interrupted True" in r.stdout, r.stdout + r.stderr
