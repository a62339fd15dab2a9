#!/usr/bin/env python3
"""PyTorch on the GPU, the same work as `nnet train --device cuda` in bench/gpu_bench.sh.

One epoch = SGD over the 9,000 training images at the given batch size, then the 10,000 test
images evaluated. fp32 with TF32 off. Two modes: eager (a Python loop of ops) and graphs (the
training step captured once with torch.cuda.graphs and replayed; the batch copied into its static
inputs before each replay). Data: a folder with MNIST's four IDX .gz files (first 10,000 training
images: the first 9,000 train). Prints one JSON line per (net, batch, mode).
"""
import argparse, gzip, json, os, statistics, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(folder, device):
    tr_x = idx(os.path.join(folder, "train-images-idx3-ubyte.gz"))[:9000].reshape(-1, 784) / 255.0
    tr_y = idx(os.path.join(folder, "train-labels-idx1-ubyte.gz"))[:9000]
    te_x = idx(os.path.join(folder, "t10k-images-idx3-ubyte.gz")).reshape(-1, 784) / 255.0
    te_y = idx(os.path.join(folder, "t10k-labels-idx1-ubyte.gz"))
    t = lambda a, dt: torch.tensor(a, dtype=dt, device=device)
    return t(tr_x, torch.float32), t(tr_y, torch.long), t(te_x, torch.float32), t(te_y, torch.long)


class TwoConv(nn.Module):  # ch6-relu: conv 20x5x5, pool 2, conv 40x5x5, pool 2, fc 100, softmax 10
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 20, 5), nn.Conv2d(20, 40, 5)
        self.f1, self.f2 = nn.Linear(640, 100), nn.Linear(100, 10)

    def forward(self, x):
        x = x.view(-1, 1, 28, 28)
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return F.log_softmax(self.f2(F.relu(self.f1(x.flatten(1)))), dim=1)


class Notebook(nn.Module):  # network.py [784, 30, 10], sigmoid
    def __init__(self):
        super().__init__()
        self.f1, self.f2 = nn.Linear(784, 30), nn.Linear(30, 10)

    def forward(self, x):
        return torch.sigmoid(self.f2(torch.sigmoid(self.f1(x))))


def loss_fn(net_name, out, y):
    if net_name == "twoconv":
        return F.nll_loss(out, y)
    return 0.5 * ((out - F.one_hot(y, 10).float()) ** 2).sum(dim=1).mean()


def run(net_name, batch, mode, data, epochs):
    tr_x, tr_y, te_x, te_y = data
    torch.manual_seed(1)
    net = (TwoConv() if net_name == "twoconv" else Notebook()).cuda()
    lr = 0.03 if net_name == "twoconv" else 3.0
    opt = torch.optim.SGD(net.parameters(), lr=lr, weight_decay=0.0)
    n = tr_x.shape[0]
    steps = n // batch
    sx = torch.zeros(batch, 784, device="cuda")
    sy = torch.zeros(batch, dtype=torch.long, device="cuda")
    graph = None
    if mode == "graphs":
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):  # warm up on a side stream, as the recipe asks
                opt.zero_grad(set_to_none=True)
                loss_fn(net_name, net(sx), sy).backward()
                opt.step()
        torch.cuda.current_stream().wait_stream(s)
        graph = torch.cuda.CUDAGraph()
        opt.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph):
            static_loss = loss_fn(net_name, net(sx), sy)
            static_loss.backward()
            opt.step()
    times, acc = [], 0.0
    for epoch in range(epochs):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        perm = torch.randperm(n, device="cuda")
        for k in range(steps):
            idx_ = perm[k * batch:(k + 1) * batch]
            if graph is not None:
                sx.copy_(tr_x[idx_])
                sy.copy_(tr_y[idx_])
                graph.replay()
            else:
                opt.zero_grad(set_to_none=True)
                loss_fn(net_name, net(tr_x[idx_]), tr_y[idx_]).backward()
                opt.step()
        with torch.no_grad():
            correct = 0
            for b in range(0, te_x.shape[0], 2000):
                correct += (net(te_x[b:b + 2000]).argmax(1) == te_y[b:b + 2000]).sum()
            acc = correct.item() / te_x.shape[0]
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return {"contender": "pytorch-" + mode, "net": net_name, "batch": batch,
            "epoch_s": statistics.median(times[1:] if len(times) > 1 else times),
            "epochs": epochs, "accuracy": acc, "torch": torch.__version__,
            "device": torch.cuda.get_device_name(0)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--runs", default="twoconv:10,twoconv:64,notebook:10")
    ap.add_argument("--modes", default="eager,graphs")
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    data = load(a.data, "cuda")
    for item in a.runs.split(","):
        net_name, batch = item.split(":")
        for mode in a.modes.split(","):
            print(json.dumps(run(net_name, int(batch), mode, data, a.epochs)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
