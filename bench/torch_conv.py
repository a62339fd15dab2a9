#!/usr/bin/python3
"""PyTorch CPU contender for the book's two-conv ReLU net (chapter 6), in float32.

conv:20:5 -> relu -> maxpool:2 -> conv:40:5 -> relu -> maxpool:2 -> fc:100 relu -> softmax:10,
log-likelihood cost summed over the mini-batch, plain SGD with lr = eta / m (network3's update
without L2), the same as `nnet train --layers ... --activation relu`. Weights N(0, 1/n_out) as
network3 (softmax zeros). Training images in file order every epoch (network3 never
reshuffles; nnet's recipe runs take --no-shuffle). Evaluation = argmax over the test set under
no_grad in chunks of 500.

Data: mnist.pkl.gz (the book's file: training / validation / test) — the same 9,000 training
images nnet reads from /work/shared/data/mnist-first10k.

Usage: torch_conv.py --pkl FILE --epochs 1 --batch 10 --eta 0.03 --threads 1
"""
import argparse
import gzip
import pickle
import time

import numpy as np
import torch

from common import emit


def load_pkl(path):
    with gzip.open(path, "rb") as f:
        tr, va, te = pickle.load(f, encoding="latin1")
    return ((tr[0].astype(np.float32), tr[1].astype(np.int64)),
            (te[0].astype(np.float32), te[1].astype(np.int64)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pkl", required=True)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--eta", type=float, default=0.03)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--train-size", type=int, default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    (xs, ys), (xt, yt) = load_pkl(a.pkl)
    if a.train_size:
        xs, ys = xs[:a.train_size], ys[:a.train_size]
    X = torch.from_numpy(xs).reshape(-1, 1, 28, 28)
    Y = torch.from_numpy(ys)
    XT = torch.from_numpy(xt).reshape(-1, 1, 28, 28)
    YT = torch.from_numpy(yt)
    nn = torch.nn
    net = nn.Sequential(
        nn.Conv2d(1, 20, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(20, 40, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(640, 100), nn.ReLU(), nn.Linear(100, 10))
    with torch.no_grad():
        for mod, n_out in ((net[0], 20 * 25 / 4), (net[3], 40 * 25 / 4), (net[7], 100)):
            mod.weight.normal_(0.0, (1.0 / n_out) ** 0.5)
            mod.bias.normal_(0.0, 1.0)
        net[9].weight.zero_()
        net[9].bias.zero_()
    opt = torch.optim.SGD(net.parameters(), lr=a.eta / a.batch)
    n = X.shape[0]
    epochs = []
    for _ in range(a.epochs):
        t0 = time.perf_counter()
        c0 = time.process_time()
        for k in range(0, n, a.batch):
            xb, yb = X[k:k + a.batch], Y[k:k + a.batch]
            m = xb.shape[0]
            if m != a.batch:
                for g in opt.param_groups:
                    g["lr"] = a.eta / m
            loss = nn.functional.cross_entropy(net(xb), yb, reduction="sum")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if m != a.batch:
                for g in opt.param_groups:
                    g["lr"] = a.eta / a.batch
        t1 = time.perf_counter()
        c1 = time.process_time()
        with torch.no_grad():
            correct = sum(int((net(XT[i:i + 500]).argmax(dim=1) == YT[i:i + 500]).sum())
                          for i in range(0, XT.shape[0], 500))
        t2 = time.perf_counter()
        epochs.append({"train_s": t1 - t0, "train_cpu_s": c1 - c0, "eval_s": t2 - t1, "correct": correct,
                       "total": int(XT.shape[0])})
    emit("pytorch", epochs, threads=a.threads, torch=torch.__version__)


if __name__ == "__main__":
    main()
