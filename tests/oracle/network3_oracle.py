#!/usr/bin/python3
"""A float64 numpy transcription of network3.py's layers (ConvPoolLayer, FullyConnectedLayer,
SoftmaxLayer) and of its log-likelihood cost, with hand-written backprop, for layers_oracle_test.

Usage: network3_oracle.py IN.json OUT.json

IN holds the net in network3's own orientation: conv w (F, C, K, K) as theano's conv2d takes it
(a true convolution: the kernel is flipped), fc/softmax w (n_in, n_out); x (m, C*H*W); labels;
and for each fc/softmax layer with p_dropout > 0 the binomial mask its dropout_layer would draw
(m, n_in). OUT holds the test-time outputs (`output`), the training-time outputs
(`output_dropout`), the cost (mean over the mini-batch, no L2 term), its gradient per layer
(w and b, same orientation), and the largest relative error of that gradient against central
differences of this same code (a self-check of the hand-written backprop).
"""
import json
import sys

import numpy as np


def act(name, z):
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":  # network3's ReLU: T.maximum(0.0, z)
        return np.maximum(0.0, z)
    if name == "linear":
        return z
    raise ValueError(name)


def act_prime(name, z):
    if name == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-z))
        return s * (1 - s)
    if name == "tanh":
        return 1 - np.tanh(z) ** 2
    if name == "relu":
        return (z > 0).astype(np.float64)
    return np.ones_like(z)


def softmax(z):  # theano's softmax, row-wise
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def conv2d_valid(x, w):
    """theano.tensor.nnet.conv.conv2d, border_mode='valid': out[n,f,y,x] =
    sum_{c,i,j} x[n, c, y+i, x+j] * w[f, c, K-1-i, K-1-j] (the kernel is flipped)."""
    m, C, H, W = x.shape
    F, _, K, _ = w.shape
    oh, ow = H - K + 1, W - K + 1
    wf = w[:, :, ::-1, ::-1]
    out = np.zeros((m, F, oh, ow))
    for i in range(K):
        for j in range(K):
            out += np.einsum("nchw,fc->nfhw", x[:, :, i:i + oh, j:j + ow], wf[:, :, i, j])
    return out


def conv2d_backward(x, w, d):
    """Gradients of sum(d * conv2d_valid(x, w)) with respect to x and w."""
    m, C, H, W = x.shape
    F, _, K, _ = w.shape
    oh, ow = H - K + 1, W - K + 1
    wf = w[:, :, ::-1, ::-1]
    dx = np.zeros_like(x)
    dwf = np.zeros_like(w)
    for i in range(K):
        for j in range(K):
            dwf[:, :, i, j] = np.einsum("nfhw,nchw->fc", d, x[:, :, i:i + oh, j:j + ow])
            dx[:, :, i:i + oh, j:j + ow] += np.einsum("nfhw,fc->nchw", d, wf[:, :, i, j])
    return dx, dwf[:, :, ::-1, ::-1]


def max_pool(x, p):
    """max_pool_2d(ignore_border=True) and the 0/1 map of each pool's (first) maximum."""
    m, F, H, W = x.shape
    r = x[:, :, :H // p * p, :W // p * p].reshape(m, F, H // p, p, W // p, p)
    pooled = r.max(axis=(3, 5))
    flat = r.transpose(0, 1, 2, 4, 3, 5).reshape(m, F, H // p, W // p, p * p)
    first = flat.argmax(axis=4)
    win = np.zeros_like(flat)
    np.put_along_axis(win, first[..., None], 1.0, axis=4)
    win = win.reshape(m, F, H // p, W // p, p, p).transpose(0, 1, 2, 4, 3, 5).reshape(
        m, F, H // p * p, W // p * p)
    return pooled, win


def run(net, x, labels, params, train):
    """Forward through network3's layers; returns (output, cost, grads).
    train=True uses the dropout masks (output_dropout), else the (1-p) scaling (output)."""
    m = x.shape[0]
    inpt = x
    cache = []
    for layer, (w, b) in zip(net["layers"], params):
        t = layer["type"]
        if t == "convpool":
            img = inpt.reshape((m,) + tuple(layer["image_shape"]))
            conv_out = conv2d_valid(img, w)
            pooled, win = max_pool(conv_out, layer["pool"])
            z = pooled + b[None, :, None, None]
            out = act(layer["act"], z)
            cache.append((img, win, z))
            inpt = out.reshape(m, -1)
        else:
            flat = inpt.reshape(m, layer["n_in"])
            p = layer["p_dropout"]
            mask = np.array(layer["mask"]) if (train and p > 0) else None
            if train:
                xin = flat * mask if mask is not None else flat
                z = xin @ w + b
            else:
                xin = flat
                z = (1 - p) * (flat @ w) + b
            out = softmax(z) if t == "softmax" else act(layer["act"], z)
            cache.append((xin, mask, z, p))
            inpt = out
    output = inpt
    cost = -np.mean(np.log(output[np.arange(m), labels]))
    # Backprop of the mean log-likelihood.
    grads = [None] * len(params)
    d = None
    for li in range(len(params) - 1, -1, -1):
        layer = net["layers"][li]
        w, b = params[li]
        t = layer["type"]
        if t == "softmax":
            xin, mask, z, p = cache[li]
            onehot = np.zeros_like(output)
            onehot[np.arange(m), labels] = 1.0
            dz = (output - onehot) / m
        elif t == "fc":
            xin, mask, z, p = cache[li]
            dz = d.reshape(z.shape) * act_prime(layer["act"], z)
        if t in ("softmax", "fc"):
            scale = 1.0 if train else (1 - p)
            grads[li] = (scale * xin.T @ dz, dz.sum(axis=0))
            dxin = scale * (dz @ w.T)
            d = dxin * mask if mask is not None else dxin
        else:
            img, win, z = cache[li]
            dz = d.reshape(z.shape) * act_prime(layer["act"], z)
            db = dz.sum(axis=(0, 2, 3))
            p = layer["pool"]
            dconv = np.repeat(np.repeat(dz, p, axis=2), p, axis=3) * win
            full = np.zeros((m, w.shape[0]) + tuple(np.array(img.shape[2:]) - w.shape[2] + 1))
            full[:, :, :dconv.shape[2], :dconv.shape[3]] = dconv
            dimg, dw = conv2d_backward(img, w, full)
            grads[li] = (dw, db)
            d = dimg.reshape(m, -1)
    return output, cost, grads


def main():
    with open(sys.argv[1]) as f:
        net = json.load(f)
    x = np.array(net["x"], dtype=np.float64)
    labels = np.array(net["labels"], dtype=np.int64)
    params = [(np.array(l["w"], dtype=np.float64), np.array(l["b"], dtype=np.float64))
              for l in net["layers"]]
    output, _, _ = run(net, x, labels, params, train=False)
    output_dropout, cost, grads = run(net, x, labels, params, train=True)
    # Self-check: central differences of the training cost.
    worst = 0.0
    h = 1e-6
    for li, (w, b) in enumerate(params):
        for arr, g in ((w, grads[li][0]), (b, grads[li][1])):
            fa, fg = arr.reshape(-1), g.reshape(-1)
            for k in range(fa.size):
                keep = fa[k]
                fa[k] = keep + h
                up = run(net, x, labels, params, True)[1]
                fa[k] = keep - h
                down = run(net, x, labels, params, True)[1]
                fa[k] = keep
                num = (up - down) / (2 * h)
                worst = max(worst, abs(num - fg[k]) / max(1.0, abs(num)))
    out = {
        "output": output.tolist(),
        "output_dropout": output_dropout.tolist(),
        "cost": cost,
        "grads": [{"w": g[0].tolist(), "b": g[1].tolist()} for g in grads],
        "selfcheck": worst,
    }
    with open(sys.argv[2], "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
