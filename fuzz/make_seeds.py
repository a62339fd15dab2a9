#!/usr/bin/python3
"""Writes seed corpora for the fuzz targets: OUTDIR/{pickle,idx,gzip,model_json,model_hdf5,
model_frame,history,image,checkpoint}/*.

Usage: [NNET_BINARY=build/nnet] make_seeds.py OUTDIR [SHARED_MNIST_DIR]

When NNET_BINARY names a built nnet and the shared data is there, a tiny training run writes real
models (JSON, HDF5), a history and a checkpoint as seeds too; checkpoints come only from there.

Seeds are small valid inputs (heads of the shared MNIST files when SHARED_MNIST_DIR is given,
synthetic ones otherwise) plus the bad cases the tests cover, so the fuzzers start deep inside
each parser. Python 3 pickles (protocols 2-5) need numpy; without it only hand-built streams
(the Python 2 cPickle layout) are written.
"""
import gzip
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
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
    for sub in ("pickle", "idx", "gzip", "model_json", "model_hdf5", "model_frame", "history", "image",
                "checkpoint"):
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

    file_format_seeds(put, shared)


def png(width, height, color_type, raw_rows):
    """A PNG with one IDAT; raw_rows already hold the filter byte per row."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw_rows)) + chunk(b"IEND", b"")


def file_format_seeds(put, shared):
    # --- model JSON: network2.save's layout, ours with the "nnet" block, and bad cases.
    book = {"sizes": [4, 3, 2], "weights": [[[0.5, -0.25, 0.125, 1.0]] * 3, [[0.1, 0.2, 0.3]] * 2],
            "biases": [[[0.0]] * 3, [[1.5]] * 2], "cost": "CrossEntropyCost"}
    put("model_json", "book", json.dumps(book).encode())
    put("model_json", "quadratic", json.dumps(dict(book, cost="QuadraticCost")).encode())
    put("model_json", "wrong-shape", json.dumps(dict(book, sizes=[4, 3, 3])).encode())
    put("model_json", "huge-sizes", json.dumps(dict(book, sizes=[2**31, 2**31])).encode())
    put("model_json", "nan", json.dumps(book).replace("0.5", "NaN").encode())
    put("model_json", "truncated", json.dumps(book)[:60].encode())
    # --- the isolated HDF5 reader's answer: u64 header length | header JSON | float32 params.
    header = json.dumps({"sizes": [4, 3, 2], "cost": "CrossEntropyCost",
                         "nnet": {"format_version": 1, "cost": "cross-entropy",
                                  "activations": ["sigmoid", "sigmoid"], "init": "default",
                                  "training": {"eta": 0.5}}}).encode()
    params = struct.pack("<23f", *[0.5 - 0.05 * i for i in range(23)])
    put("model_frame", "good", struct.pack("<Q", len(header)) + header + params)
    put("model_frame", "short", struct.pack("<Q", len(header)) + header + params[:-4])
    put("model_frame", "nan", struct.pack("<Q", len(header)) + header + params[:-4] +
        struct.pack("<f", float("nan")))
    put("model_frame", "huge-length", struct.pack("<Q", 2**63) + header + params)
    # --- history JSON
    epoch = {"epoch": 0, "eta": 0.5, "training_cost": 0.3, "training_correct": 90, "training_total": 100,
             "evaluation_cost": None, "evaluation_correct": 80, "evaluation_total": 100,
             "train_seconds": 0.01, "eval_seconds": 0.0, "bias_grad_norm": [0.1, 0.2],
             "weight_grad_norm": [0.3, 0.4]}
    hist = {"format": "nnet-history", "options": {"seed": 1, "eta": 0.5}, "epochs": [epoch, dict(epoch, epoch=1)]}
    put("history", "valid", json.dumps(hist).encode())
    put("history", "negative", json.dumps(dict(hist, epochs=[dict(epoch, eta=-1)])).encode())
    put("history", "format-number", json.dumps(dict(hist, format=3)).encode())
    put("history", "not-object", b"[1,2,3]")
    # --- images: PNG (gray, RGBA), binary PGM, BMP, and bad cases.
    rows = b"".join(b"\0" + bytes((x * y) % 256 for x in range(28)) for y in range(28))
    put("image", "gray.png", png(28, 28, 0, rows))
    rgba = b"".join(b"\0" + bytes(v for x in range(8) for v in (x * 30, y * 30, 0, 255)) for y in range(8))
    put("image", "rgba.png", png(8, 8, 6, rgba))
    put("image", "huge.png", png(100000, 100000, 0, b"\0"))
    put("image", "truncated.png", png(28, 28, 0, rows)[:60])
    put("image", "digit.pgm", b"P5\n28 28\n255\n" + bytes((x * y) % 256 for y in range(28) for x in range(28)))
    put("image", "tiny.pgm", b"P5 1 1 255\n\x80")
    pix = bytes(v for y in range(4) for x in range(4) for v in (x * 60, y * 60, 100)) 
    bmp_rows = b"".join(pix[y * 12:(y + 1) * 12] for y in range(4))
    bmp = b"BM" + struct.pack("<IHHI", 54 + len(bmp_rows), 0, 0, 54) + struct.pack(
        "<IiiHHIIiiII", 40, 4, 4, 1, 24, 0, len(bmp_rows), 2835, 2835, 0, 0) + bmp_rows
    put("image", "rgb.bmp", bmp)
    # --- model HDF5 (our layout) with h5py, when Debian's python has it.
    try:
        import h5py
        import numpy as np

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.h5")
            with h5py.File(path, "w") as f:
                f.attrs["format"] = "nnet-model"
                f.attrs["format_version"] = np.int32(1)
                f.attrs["sizes"] = np.array([4, 3, 2], dtype=np.int32)
                f.attrs["cost"] = "cross-entropy"
                for l, (r, c) in enumerate(((3, 4), (2, 3))):
                    g = f.create_group(f"layers/{l}")
                    g.attrs["activation"] = "sigmoid"
                    g["weight"] = np.linspace(-1, 1, r * c, dtype=np.float32).reshape(r, c)
                    g["bias"] = np.zeros(r, dtype=np.float32)
            with open(path, "rb") as f:
                put("model_hdf5", "h5py", f.read())
    except ImportError:
        pass
    put("model_hdf5", "signature-only", b"\x89HDF\r\n\x1a\n" + bytes(64))
    # --- real files from a tiny nnet training run.
    binary = os.environ.get("NNET_BINARY", "")
    if not (binary and os.access(binary, os.X_OK) and shared):
        return
    # A dense net and a small conv stack (format_version 2: layers, input, conv W as (F, C, K, K)).
    for net, suffix in ((["--sizes", "784,2,10"], ""),
                        (["--layers", "conv:2:5,maxpool:2,fc:4,softmax:10"], "-stack")):
        with tempfile.TemporaryDirectory() as tmp:
            base = [binary, "train", "--data", shared, *net, "--epochs", "2", "--train-size", "50",
                    "--eval", "none", "--batch", "10", "-q", "--history", os.path.join(tmp, "h.json"),
                    "--checkpoint", os.path.join(tmp, "ck")]
            for ext in ("json", "h5"):
                r = subprocess.run(base + ["--save", os.path.join(tmp, "m." + ext)], capture_output=True)
                if r.returncode != 0:
                    print("make_seeds: nnet train failed:", r.stderr.decode(errors="replace")[-300:], file=sys.stderr)
                    return
                shutil.rmtree(os.path.join(tmp, "ck")) if ext == "json" else None
            for src, sub in (("m.json", "model_json"), ("m.h5", "model_hdf5"), ("h.json", "history"),
                             ("ck/checkpoint.bin", "checkpoint")):
                with open(os.path.join(tmp, src), "rb") as f:
                    put(sub, "nnet" + suffix, f.read())

if __name__ == "__main__":
    main()
