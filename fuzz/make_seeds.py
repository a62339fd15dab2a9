#!/usr/bin/python3
"""Writes seed corpora for the fuzz targets: OUTDIR/{pickle,idx,gzip}/*.

Usage: make_seeds.py OUTDIR [SHARED_MNIST_DIR]

Seeds are small valid inputs (heads of the shared MNIST files when SHARED_MNIST_DIR is given,
synthetic ones otherwise) plus the bad cases the tests cover, so the fuzzers start deep inside
each parser. Python 3 pickles (protocols 2-5) need numpy; without it only hand-built streams
(the Python 2 cPickle layout) are written.
"""
import gzip
import os
import pickle
import struct
import sys
import zlib


def le(v, n):
    return int(v).to_bytes(n, "little")


def py2_array(dtype, shape, data, byteorder=b"<"):
    """One numpy array as Python 2 cPickle protocol 2 writes it (no memo opcodes)."""
    p = b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R(K\x01("
    for d in shape:
        p += b"J" + le(d, 4) if d < 2**31 else b"\x8a\x08" + le(d, 8)
    p += b"tcnumpy\ndtype\nU" + bytes([len(dtype)]) + dtype + b"\x89\x88\x87R"
    p += b"(K\x03U\x01" + byteorder + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89"
    p += b"T" + le(len(data), 4) + data + b"tb"
    return p


def py2_pickle(splits):
    p = b"\x80\x02"
    for images, labels in splits:
        n = len(labels)
        p += py2_array(b"f4", (n, 784), images) + py2_array(b"i8", (n,), b"".join(le(v, 8) for v in labels)) + b"\x86"
    return p + b"\x87."


def read_head(path, nbytes):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return f.read(nbytes)


def main():
    out = sys.argv[1]
    shared = sys.argv[2] if len(sys.argv) > 2 else ""
    for sub in ("pickle", "idx", "gzip"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)

    def put(sub, name, data):
        with open(os.path.join(out, sub, name), "wb") as f:
            f.write(data)

    # Two real (or synthetic) images and labels.
    if shared:
        img_file = read_head(os.path.join(shared, "train-images-idx3-ubyte.gz"), 16 + 2 * 784)
        lab_file = read_head(os.path.join(shared, "train-labels-idx1-ubyte.gz"), 8 + 2)
        img_file = img_file[:4] + struct.pack(">I", 2) + img_file[8:]
        lab_file = lab_file[:4] + struct.pack(">I", 2) + lab_file[8:]
    else:
        img_file = b"\0\0\x08\x03" + struct.pack(">III", 2, 28, 28) + bytes(range(256)) * 6 + bytes(32)
        lab_file = b"\0\0\x08\x01" + struct.pack(">I", 2) + b"\x05\x00"
    pixels = img_file[16:]
    labels = list(lab_file[8:])

    # --- IDX: 2-byte little-endian split, then images, then labels.
    def idx(images, labs):
        return le(len(images), 2) + images + labs

    put("idx", "valid", idx(img_file, lab_file))
    put("idx", "labels-magic", idx(lab_file, lab_file))
    put("idx", "27x28", idx(b"\0\0\x08\x03" + struct.pack(">III", 1, 27, 28) + pixels[:756], lab_file[:8] + b"\x01"))
    put("idx", "count-mismatch", idx(img_file, lab_file[:4] + struct.pack(">I", 1) + lab_file[8:9]))
    put("idx", "label-10", idx(img_file, lab_file[:8] + b"\x0a\x01"))
    put("idx", "overflow", idx(b"\0\0\x08\x03" + b"\xff" * 12 + b"x", lab_file))
    put("idx", "short-payload", idx(img_file[:-1], lab_file))

    # --- pickle: Python 2 layout by hand; Python 3 protocols 2-5 when numpy is there.
    floats = b"".join(struct.pack("<f", b / 256.0) for b in pixels)
    splits = [(floats[: 784 * 4], labels[:1]), (floats[784 * 4 :], labels[1:]), (floats[: 784 * 4], labels[:1])]
    valid = py2_pickle(splits)
    put("pickle", "py2", valid)
    put("pickle", "os-system", valid.replace(b"cnumpy.core.multiarray\n_reconstruct\n", b"cos\nsystem\n", 1))
    put("pickle", "stack-global-eval", b"\x80\x04\x8c\x08builtins\x8c\x04eval\x93\x8c\x031+1\x85R.")
    put("pickle", "trailing", valid + b"x")
    put("pickle", "truncated", valid[: len(valid) // 2])
    put("pickle", "huge-string", b"\x80\x02T\xff\xff\xff\x7fabc.")
    put("pickle", "unknown-op", b"\x80\x02I1\n.")
    put("pickle", "short-data", py2_pickle([(floats[:100], labels[:1])] * 3))
    try:
        import numpy as np

        x = np.frombuffer(floats, dtype="<f4").reshape(2, 784)
        y = np.array(labels, dtype=np.int64)
        obj = ((x[:1], y[:1]), (x[1:], y[1:]), (x[:1], y[:1]))
        for proto in (2, 3, 4, 5):
            put("pickle", f"py3-p{proto}", pickle.dumps(obj, protocol=proto))
    except ImportError:
        pass

    # --- gzip
    for name, data in (("idx", idx(img_file, lab_file)), ("pickle", valid), ("empty", b"")):
        gz = gzip.compress(data, mtime=0)
        put("gzip", name, gz)
        put("gzip", name + "-truncated", gz[: len(gz) // 2])
        bad = bytearray(gz)
        if len(bad) > 8:
            bad[-8] ^= 1
        put("gzip", name + "-badcrc", bytes(bad))
    put("gzip", "two-members", gzip.compress(b"abc", mtime=0) + gzip.compress(b"def", mtime=0))
    put("gzip", "zlib-not-gzip", zlib.compress(b"hello"))
    if shared:
        with open(os.path.join(shared, "t10k-labels-idx1-ubyte.gz"), "rb") as f:
            put("gzip", "t10k-labels", f.read())


if __name__ == "__main__":
    main()
