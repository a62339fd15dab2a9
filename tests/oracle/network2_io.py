#!/usr/bin/python3
"""Interop oracle for nnet's model files: the book's network2.py save/load code, verbatim in
spirit (json + numpy, cost looked up by name as network2.load does), plus h5py checks.

  network2_io.py predict MODEL.json DATA.pkl.gz N   -> prints argmax of the first N test images
  network2_io.py save MODEL.json SEED               -> writes a network2.save model
  network2_io.py h5 MODEL.h5 MODEL.json             -> h5py arrays == float32(JSON arrays)
  network2_io.py bad-h5 DIR                         -> writes malformed .h5 files for the tests
"""
import gzip
import json
import pickle
import sys

import numpy as np


# ---- from network2.py (Michael Nielsen, MIT licence): the parts save/load need ----
class QuadraticCost(object):
    @staticmethod
    def fn(a, y):
        return 0.5 * np.linalg.norm(a - y) ** 2


class CrossEntropyCost(object):
    @staticmethod
    def fn(a, y):
        return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class Network(object):
    def __init__(self, sizes, cost=CrossEntropyCost):
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.default_weight_initializer()
        self.cost = cost

    def default_weight_initializer(self):
        self.biases = [np.random.randn(y, 1) for y in self.sizes[1:]]
        self.weights = [np.random.randn(y, x) / np.sqrt(x)
                        for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    def feedforward(self, a):
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def save(self, filename):
        data = {"sizes": self.sizes,
                "weights": [w.tolist() for w in self.weights],
                "biases": [b.tolist() for b in self.biases],
                "cost": str(self.cost.__name__)}
        f = open(filename, "w")
        json.dump(data, f)
        f.close()


def load(filename):
    f = open(filename, "r")
    data = json.load(f)
    f.close()
    cost = getattr(sys.modules[__name__], data["cost"])
    net = Network(data["sizes"], cost=cost)
    net.weights = [np.array(w) for w in data["weights"]]
    net.biases = [np.array(b) for b in data["biases"]]
    return net
# ---- end of network2.py ----


def predict(model, data, n):
    net = load(model)
    with gzip.open(data, "rb") as f:
        _, _, test = pickle.load(f, encoding="latin1")
    x = np.asarray(test[0][:n], dtype=np.float64).T  # (784, n): all columns at once
    out = net.feedforward(x)
    print(" ".join(str(int(i)) for i in np.argmax(out, axis=0)))


def save(path, seed):
    np.random.seed(seed)
    Network([784, 30, 10], cost=QuadraticCost).save(path)


def check_h5(h5path, jsonpath):
    import h5py
    with open(jsonpath) as f:
        data = json.load(f)
    with h5py.File(h5path, "r") as h:
        assert list(h.attrs["sizes"]) == data["sizes"], "sizes"
        assert h.attrs["book_cost"] == data["cost"], "cost"
        assert h.attrs["cost"] == data["nnet"]["cost"], "nnet cost"
        for l, (w, b) in enumerate(zip(data["weights"], data["biases"])):
            hw, hb = h["layers/%d/weight" % l], h["layers/%d/bias" % l]
            assert hw.dtype == np.float32 and hb.dtype == np.float32, "dtype"
            jw, jb = np.array(w, dtype=np.float32), np.array(b, dtype=np.float32)[:, 0]
            assert hw.shape == jw.shape and hb.shape == jb.shape, "shape layer %d" % l
            # Bit-identical: compare the raw bytes, not values.
            assert hw[()].tobytes() == jw.tobytes(), "weights layer %d" % l
            assert hb[()].tobytes() == jb.tobytes(), "biases layer %d" % l
            assert h["layers/%d" % l].attrs["activation"] == data["nnet"]["activations"][l]
    print("OK")


def old_h5(jsonpath, h5path):
    """The HDF5 file nnet's writer of 0a3834f made of the model in `jsonpath` (a model file of
    ours): format 1 for a dense net, 2 (input, layers, per-layer kind) for a layer stack. So the
    compatibility test checks old-layout .h5 files without a binary file in git."""
    import h5py
    with open(jsonpath) as f:
        data = json.load(f)
    ours = data["nnet"]
    stack = "layers" in data
    with h5py.File(h5path, "w") as h:
        h.attrs["book_cost"] = data["cost"]
        h.attrs["cost"] = ours["cost"]
        h.attrs["format"] = "nnet-model"
        h.attrs["format_version"] = np.int32(2 if stack else 1)
        h.attrs["init"] = ours["init"]
        if stack:
            h.attrs["input"] = np.array(data["input"], dtype=np.int32)
            h.attrs["layers"] = data["layers"]
        h.attrs["sizes"] = np.array(data["sizes"], dtype=np.int32)
        h.attrs["training"] = json.dumps(ours["training"], separators=(",", ":"), sort_keys=True)
        weighted = [s for s in data.get("layers", "").split(",")
                    if s.split(":")[0] in ("conv", "fc", "softmax")]
        for l, (w, b) in enumerate(zip(data["weights"], data["biases"])):
            g = h.create_group("layers/%d" % l)
            g.attrs["activation"] = ours["activations"][l]
            if stack:
                g.attrs["kind"] = weighted[l].split(":")[0]
                g.attrs["layer"] = weighted[l]
            g["weight"] = np.array(w, dtype=np.float32)
            g["bias"] = np.array(b, dtype=np.float32).reshape(-1)
    print("OK")


def bad_h5(d):
    import h5py

    def base(name, skip=None, weight=None, bias=None):
        h = h5py.File("%s/%s.h5" % (d, name), "w")
        h.attrs["sizes"] = np.array([4, 3, 2], dtype=np.int32)
        h.attrs["cost"] = "quadratic"
        for l, (y, x) in enumerate([(3, 4), (2, 3)]):
            g = h.create_group("layers/%d" % l)
            if (l, "weight") != skip:
                g["weight"] = (weight if weight is not None and l == 1
                               else np.zeros((y, x), np.float32))
            if (l, "bias") != skip:
                g["bias"] = bias if bias is not None and l == 1 else np.zeros((y,), np.float32)
        return h

    base("good").close()
    base("missing_dataset", skip=(1, "weight")).close()
    base("wrong_dtype", weight=np.zeros((2, 3), np.int32)).close()
    base("wrong_rank", bias=np.zeros((2, 1), np.float32)).close()
    base("wrong_shape", weight=np.zeros((3, 2), np.float32)).close()
    base("nan", bias=np.array([0, np.nan], np.float32)).close()
    h = base("external_link", skip=(1, "weight"))
    h["layers/1/weight"] = h5py.ExternalLink("other.h5", "/w")
    h.close()
    h = base("soft_link", skip=(1, "weight"))
    h["layers/1/weight"] = h5py.SoftLink("/layers/0/weight")
    h.close()
    h = base("external_storage", skip=(1, "weight"))
    with open("%s/raw.bin" % d, "wb") as f:
        f.write(b"\0" * 24)
    h["layers/1"].create_dataset("weight", (2, 3), np.float32,
                                 external=[("%s/raw.bin" % d, 0, 24)])
    h.close()
    h = base("bad_cost")
    h.attrs["cost"] = "os.system"
    h.close()
    h = base("huge_sizes")
    h.attrs["sizes"] = np.array([4, 1000000, 1000000, 2], dtype=np.int64)
    h.close()
    print("OK")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "predict":
        predict(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif cmd == "save":
        save(sys.argv[2], int(sys.argv[3]))
    elif cmd == "h5":
        check_h5(sys.argv[2], sys.argv[3])
    elif cmd == "old-h5":
        old_h5(sys.argv[2], sys.argv[3])
    elif cmd == "bad-h5":
        bad_h5(sys.argv[2])
    else:
        sys.exit("unknown command " + cmd)
