"""Shared helpers for the Python contenders: IDX loading (gz or plain) and the result line.

Every contender prints one JSON line on stdout:
  {"contender": ..., "epochs": [{"train_s": .., "eval_s": .., "correct": .., "total": ..}, ...]}
"""
import argparse
import gzip
import json
import os
import struct

import numpy as np


def _read(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            opener = gzip.open if p.endswith(".gz") else open
            with opener(p, "rb") as f:
                return f.read()
    raise FileNotFoundError(path + "[.gz]")


def workload_args(extra=None):
    """Parses the flags every contender shares (plus `extra(parser)`'s) and loads the workload:
    returns (args, (train images, train labels), (test images, test labels))."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--sizes", default="784,30,10")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--eta", type=float, default=0.1)
    ap.add_argument("--train-size", type=int, default=None)
    ap.add_argument("--seed", type=int, default=1)
    if extra is not None:
        extra(ap)
    a = ap.parse_args()
    return a, load_idx_split(a.data, "train", a.train_size), load_idx_split(a.data, "t10k")


def load_idx_split(folder, prefix, limit=None):
    """Images (n, 784) float32 scaled byte/255 (as nnet's IDX loader does) and labels (n,) int64."""
    raw = _read(os.path.join(folder, prefix + "-images-idx3-ubyte"))
    magic, n, rows, cols = struct.unpack(">IIII", raw[:16])
    assert magic == 0x803 and rows == 28 and cols == 28, "not an MNIST IDX image file"
    lab = _read(os.path.join(folder, prefix + "-labels-idx1-ubyte"))
    assert struct.unpack(">II", lab[:8]) == (0x801, n)
    if limit is not None:
        n = min(n, limit)
    x = np.frombuffer(raw, np.uint8, n * 784, 16).reshape(n, 784).astype(np.float32) / np.float32(255)
    y = np.frombuffer(lab, np.uint8, n, 8).astype(np.int64)
    return x, y


def blas_libraries():
    """The BLAS/LAPACK shared objects this process has mapped (which kernel numpy/torch run)."""
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                base = os.path.basename(path)
                if any(k in base for k in ("blas", "mkl", "blis", "lapack", "dnnl")):
                    libs.add(os.path.realpath(path))
    except OSError:
        pass
    return sorted(libs)


def emit(name, epochs, **extra):
    d = {"contender": name, "epochs": epochs, "blas": blas_libraries()}
    d.update(extra)
    print(json.dumps(d), flush=True)
