#!/usr/bin/python3
"""The paper model of docs/distributed.md: data-parallel SGD step time on K nodes,
    T(K) = B * t_sample / K + 2 (K-1)/K * bytes / beta + 2 (K-1) * alpha   (ring all-reduce),
against one node's B * t_sample, for the dense and conv nets at several global batch sizes.
t_sample (seconds of training per image, one process) comes from bench/mpi_scaling.sh.
  /usr/bin/python3 bench/mpi_model.py --dense-us 1.1 --conv-us 190
"""
import argparse

NETS = {  # parameters (floats of 4 bytes) of the two nets
    "dense [784,30,10]": 784 * 30 + 30 + 30 * 10 + 10,
    "conv (book's two-conv)": (20 * 25 + 20) + (40 * 20 * 25 + 40) + (100 * 640 + 100) + (10 * 100 + 10),
}
LINKS = {  # name: (beta bytes/s, alpha s)
    "10 Gbit/s (TCP, alpha 25 us)": (10e9 / 8, 25e-6),
    "100 Gbit/s (RDMA, alpha 2 us)": (100e9 / 8, 2e-6),
}

ap = argparse.ArgumentParser()
ap.add_argument("--dense-us", type=float, required=True, help="dense: us of training per image")
ap.add_argument("--conv-us", type=float, required=True, help="conv: us of training per image")
ap.add_argument("--batches", default="10,64,256,1024")
ap.add_argument("--nodes", default="8,16,32,64")
a = ap.parse_args()
t_sample = {"dense [784,30,10]": a.dense_us * 1e-6, "conv (book's two-conv)": a.conv_us * 1e-6}
nodes = [int(k) for k in a.nodes.split(",")]
print("speedup over one node (step time one node / step time K nodes); comm share in ()")
for net, params in NETS.items():
    nbytes = 4 * params
    print(f"\n{net}: {params} parameters = {nbytes / 1e3:.0f} kB per gradient")
    for link, (beta, alpha) in LINKS.items():
        print(f"  {link}")
        print("    batch  step(1 node)  " + "  ".join(f"K={k:<12}" for k in nodes))
        for b in [int(x) for x in a.batches.split(",")]:
            one = b * t_sample[net]
            cells = []
            for k in nodes:
                comm = 2 * (k - 1) / k * nbytes / beta + 2 * (k - 1) * alpha
                step = one / k + comm
                cells.append(f"{one / step:5.2f}x ({100 * comm / step:3.0f}%)")
            print(f"    {b:5d}  {one * 1e6:9.0f} us  " + "  ".join(f"{c:<14}" for c in cells))
