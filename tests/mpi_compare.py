#!/usr/bin/python3
"""Compares two nnet run outputs for tests/mpi_test.sh: checkpoint.bin files (every array byte
for byte, the JSON header too) or JSON histories, ignoring only wall-clock timings (*_seconds).
Exit 0 if the same, 1 (with the first difference) otherwise."""
import json
import struct
import sys


def drop_timings(x):
    if isinstance(x, dict):
        return {k: drop_timings(v) for k, v in x.items() if not k.endswith("_seconds")}
    if isinstance(x, list):
        return [drop_timings(v) for v in x]
    return x


def load(path):
    data = open(path, "rb").read()
    if not data.startswith(b"NNETCKPT"):
        return drop_timings(json.loads(data)), []
    (header_len,) = struct.unpack_from("<Q", data, 12)
    header = json.loads(data[20:20 + header_len])
    arrays, off = [], 20 + header_len
    for _ in range(6):  # params, velocity, best_params, order, shuffle_rng, dropout_rng
        (count,) = struct.unpack_from("<Q", data, off)
        arrays.append(data[off + 8:off + 8 + 4 * count])
        off += 8 + 4 * count
    return drop_timings(header), arrays


a, b = load(sys.argv[1]), load(sys.argv[2])
if a[0] != b[0]:
    print(f"{sys.argv[1]} and {sys.argv[2]}: JSON differs", file=sys.stderr)
    sys.exit(1)
names = ["params", "velocity", "best_params", "order", "shuffle_rng", "dropout_rng"]
for name, x, y in zip(names, a[1], b[1]):
    if x != y:
        print(f"{sys.argv[1]} and {sys.argv[2]}: {name} differ", file=sys.stderr)
        sys.exit(1)
