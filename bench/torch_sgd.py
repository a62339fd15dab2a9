#!/usr/bin/python3
"""PyTorch CPU contender: the same network and update as nnet's default run, in float32.

Sigmoid layers, quadratic cost C = 0.5 * sum over the mini-batch of |a - y|^2 (summed, not
averaged), plain SGD with lr = eta / m, so each step is exactly w <- w - (eta/m) sum_x dC_x/dw,
the notebook's update. Weights and biases N(0, 1) (the notebook's init). Shuffle every epoch;
evaluation = argmax over the whole test set under no_grad.

Usage: torch_sgd.py --data DIR --sizes 784,30,10 --epochs 2 --batch 10 --eta 0.1 --threads 1
"""
import time

import numpy as np
import torch

from common import emit, workload_args


def main():
    a, (xs, ys), (xt, yt) = workload_args(
        lambda ap: ap.add_argument("--threads", type=int, default=1))
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    X = torch.from_numpy(xs)  # (n, 784) float32, shares numpy's buffer
    Y = torch.nn.functional.one_hot(torch.from_numpy(ys), 10).to(torch.float32)  # (n, 10)
    XT = torch.from_numpy(xt)
    YT = torch.from_numpy(yt)
    sizes = [int(s) for s in a.sizes.split(",")]
    layers = []
    for i, o in zip(sizes[:-1], sizes[1:]):
        lin = torch.nn.Linear(i, o)
        with torch.no_grad():
            lin.weight.normal_(0.0, 1.0)
            lin.bias.normal_(0.0, 1.0)
        layers += [lin, torch.nn.Sigmoid()]
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(net.parameters(), lr=a.eta / a.batch)
    n = X.shape[0]
    epochs = []
    for _ in range(a.epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        for k in range(0, n, a.batch):
            idx = perm[k:k + a.batch]
            m = idx.shape[0]
            if m != a.batch:  # a short last batch: the notebook divides by len(mini_batch)
                for g in opt.param_groups:
                    g["lr"] = a.eta / m
            out = net(X[idx])
            loss = 0.5 * ((out - Y[idx]) ** 2).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if m != a.batch:
                for g in opt.param_groups:
                    g["lr"] = a.eta / a.batch
        t1 = time.perf_counter()
        with torch.no_grad():
            correct = int((net(XT).argmax(dim=1) == YT).sum())
        t2 = time.perf_counter()
        epochs.append({"train_s": t1 - t0, "eval_s": t2 - t1, "correct": correct,
                       "total": int(XT.shape[0])})
    emit("pytorch", epochs, threads=a.threads, torch=torch.__version__)


if __name__ == "__main__":
    main()
