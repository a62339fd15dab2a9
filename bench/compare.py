#!/usr/bin/python3
"""nnet against the notebook's numpy code, PyTorch CPU and the FLOP bound, on the same data and
settings. Contenders run back to back and alternating (round 1: A B C D, round 2: A B C D, ...);
each run is a fresh process whose peak RSS comes from wait4(). Reported per contender: median
seconds per epoch (training and evaluation apart), training images/s, peak RSS, test accuracy
after the first epoch (every contender runs at least one), and the ratio to nnet.

  /usr/bin/python3 bench/compare.py                      # all three workloads, 3 rounds
  /usr/bin/python3 bench/compare.py --workloads 1 --rounds 5 --json out.json

Workloads: 1 = the notebook's ([784,30,10], batch 10, eta 0.1, first 10,000 MNIST training
images, 10,000 test images); 2 = [784,100,10], batch 10, Fashion-MNIST 60,000/10,000;
3 = as 2 with batch 100; 4 = the book's chapter-6 net (conv:20:5,maxpool:2,conv:40:5,maxpool:2,
fc:100,softmax:10, ReLU) on mnist.pkl.gz's 9,000 training images, batch 10, against PyTorch
(bench/torch_conv.py); 5 = as 4 with batch 64. Workloads 4 and 5 run only when asked for.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = "/usr/bin/python3"  # Debian's: sees numpy and torch

WORKLOADS = {
    1: dict(name="notebook: MNIST first 10k, [784,30,10], batch 10, eta 0.1",
            data="/work/shared/data/mnist-first10k", sizes=[784, 30, 10], batch=10, eta=0.1,
            n_train=10000, n_train_full=10000, n_test=10000, epochs={"nnet": 10, "ref": 1, "numpy": 1, "torch": 2}),
    2: dict(name="Fashion-MNIST 60k, [784,100,10], batch 10, eta 0.1",
            data="/usr/share/datasets/fashion-mnist", sizes=[784, 100, 10], batch=10, eta=0.1,
            n_train=60000, n_train_full=60000, n_test=10000, epochs={"nnet": 4, "ref": 1, "numpy": 1, "torch": 1}),
    3: dict(name="Fashion-MNIST 60k, [784,100,10], batch 100, eta 0.1",
            data="/usr/share/datasets/fashion-mnist", sizes=[784, 100, 10], batch=100, eta=0.1,
            n_train=60000, n_train_full=60000, n_test=10000, epochs={"nnet": 4, "ref": 1, "numpy": 1, "torch": 2}),
    4: dict(name="the book's two-conv ReLU net, mnist.pkl.gz 9,000 training images, batch 10",
            data="/work/shared/data/mnist-first10k", conv=True, batch=10, eta=0.03,
            n_train=9000, n_test=10000, epochs={"nnet": 2, "torch": 1}),
    5: dict(name="the book's two-conv ReLU net, mnist.pkl.gz 9,000 training images, batch 64",
            data="/work/shared/data/mnist-first10k", conv=True, batch=64, eta=0.03,
            n_train=9000, n_test=10000, epochs={"nnet": 2, "torch": 1}),
}

# Chapter 6's net (workloads 4 and 5): network3's architecture with ReLU everywhere.
CONV_LAYERS = "conv:20:5,maxpool:2,conv:40:5,maxpool:2,fc:100,softmax:10"


def conv_flops(layers=CONV_LAYERS, c=1, h=28, w=28):
    """(forward, backward) FLOPs per image of a layer stack (multiply-add = 2; bias, activation
    and pooling terms left out). Backward = weight gradients of every layer (as many FLOPs as its
    forward) + input gradients of every layer but the first."""
    fwd, bwd_dx = [], []
    for spec in layers.split(","):
        parts = spec.split(":")
        kind = parts[0]
        if kind == "conv":
            f, k = int(parts[1]), int(parts[2])
            oh, ow = h - k + 1, w - k + 1
            fwd.append(2 * f * c * k * k * oh * ow)
            c, h, w = f, oh, ow
        elif kind in ("maxpool", "avgpool"):
            p = int(parts[1])
            h, w = h // p, w // p
            fwd.append(0)
        elif kind in ("fc", "softmax"):
            n = int(parts[1])
            fwd.append(2 * c * h * w * n)
            c, h, w = n, 1, 1
        else:
            fwd.append(0)
    weighted = [i for i, f in enumerate(fwd) if f]
    bwd = sum(fwd) + sum(fwd[i] for i in weighted[1:])
    return sum(fwd), bwd


def flops(w):
    if w.get("conv"):
        f, b = conv_flops()
        return w["n_train"] * (f + b), w["n_test"] * f

    """FLOPs of one epoch (multiply-add = 2): training forward + backward, evaluation forward."""
    s = w["sizes"]
    fwd = sum(2 * a * b for a, b in zip(s[:-1], s[1:]))  # W a per layer
    # Backward: dW = d a^T for every layer (2*a*b), delta = W^T d for every layer but the first
    # (no input delta). Bias and activation terms are O(neurons) and left out.
    bwd = sum(2 * a * b for a, b in zip(s[:-1], s[1:])) + sum(
        2 * a * b for a, b in zip(s[1:-1], s[2:]))
    return w["n_train"] * (fwd + bwd), w["n_test"] * fwd


def measured_run(cmd, env=None):
    """Runs cmd in a child reaped with wait4, so ru_maxrss is this child's own peak RSS."""
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    if p.returncode != 0:
        sys.exit("failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), err[-2000:]))
    return out, err, ru.ru_maxrss / 1024.0, wall


def nnet_supports_reference(nnet):
    out = subprocess.run([nnet, "train", "--help"], capture_output=True, text=True).stdout
    return "--reference" in out


def idx_only_dir(folder):
    """A temporary folder of symlinks to `folder`'s IDX files alone: nnet prefers a mnist.pkl.gz
    in the same folder (mnist-first10k has one, holding only 9,000 training images), while the
    workload is the IDX files' 10,000 — the same images the Python contenders read."""
    d = tempfile.mkdtemp(prefix="nnet-bench-idx-")
    for name in os.listdir(folder):
        if "-ubyte" in name:
            os.symlink(os.path.join(folder, name), os.path.join(d, name))
    return d


def contenders(w, args):
    """(label, key, command builder) per contender; the builder returns (cmd, env, parse)."""
    if w.get("conv"):
        return conv_contenders(w, args)
    sizes = ",".join(map(str, w["sizes"]))
    nnet_data = idx_only_dir(w["data"])
    common_py = ["--data", w["data"], "--sizes", sizes, "--batch", str(w["batch"]),
                 "--eta", str(w["eta"]), "--train-size", str(w["n_train"])]
    # nnet's --train-size copies the training split (head()), so pass it only when it cuts.
    subset = [] if w["n_train"] == w["n_train_full"] else ["--train-size", str(w["n_train"])]
    out = []

    def nnet_cmd(reference):
        def build():
            hist = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
            e = w["epochs"]["ref" if reference else "nnet"]
            cmd = [args.nnet, "train", "--data", nnet_data, "--sizes", sizes, "--batch",
                   str(w["batch"]), "--eta", str(w["eta"]), "--epochs", str(e), "--eval", "test",
                   *subset, "--history", hist, "-q"]
            if reference:
                cmd.append("--reference")

            def parse(stdout):
                with open(hist) as f:
                    h = json.load(f)
                os.unlink(hist)
                eps = h["epochs"] if isinstance(h, dict) else h
                return [{"train_s": r["train_seconds"], "eval_s": r["eval_seconds"],
                         "train_cpu_s": r.get("train_cpu_seconds"),
                         "correct": r["evaluation_correct"], "total": r["evaluation_total"]}
                        for r in eps]
            return cmd, None, parse
        return build

    out.append(("nnet", "nnet", nnet_cmd(False)))
    if args.reference:
        out.append(("nnet --reference", "ref", nnet_cmd(True)))

    def py_cmd(script, key, extra=()):
        def build():
            env = dict(os.environ)
            # The BLAS numpy/torch load must pick its own kernel here, not the one the
            # environment forces for other tools.
            env.pop("OPENBLAS_CORETYPE", None)
            env.pop("OPENBLAS_L2_SIZE", None)
            cmd = [PY, os.path.join(HERE, script), *common_py, "--epochs",
                   str(w["epochs"][key]), *extra]

            def parse(stdout):
                d = json.loads(stdout.strip().splitlines()[-1])
                parse.blas = d.get("blas", [])
                return d["epochs"]
            return cmd, env, parse
        return build

    if not args.skip_numpy:
        out.append(("notebook numpy", "numpy", py_cmd("notebook_numpy.py", "numpy")))
    if not args.skip_torch:
        for t in args.torch_threads.get(w["id"], (1, 2)):
            out.append(("pytorch %dt" % t, "torch", py_cmd("torch_sgd.py", "torch",
                                                          ("--threads", str(t)))))
    return out


def conv_contenders(w, args):
    """Workloads 4/5: nnet (default flags, and conv layers on a given thread count) and PyTorch
    (1 and 2 threads), both training on mnist.pkl.gz's 9,000 images in file order (--no-shuffle,
    as network3)."""
    pkl = os.path.join(w["data"], "mnist.pkl.gz")
    out = []

    def nnet_build(threads):
        def build():
            hist = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
            # threads None: nnet's defaults (no thread flags), as a new user runs it.
            flags = [] if threads is None else ["--conv-threads", str(threads), "--threads",
                                                str(threads)]
            cmd = [args.nnet, "train", "--data", w["data"], "--layers", CONV_LAYERS,
                   "--activation", "relu", "--batch", str(w["batch"]), "--eta", str(w["eta"]),
                   "--epochs", str(w["epochs"]["nnet"]), "--no-shuffle", "--eval", "test",
                   *flags, "--history", hist, "-q"]

            def parse(stdout):
                with open(hist) as f:
                    h = json.load(f)
                os.unlink(hist)
                eps = h["epochs"] if isinstance(h, dict) else h
                return [{"train_s": r["train_seconds"], "eval_s": r["eval_seconds"],
                         "train_cpu_s": r.get("train_cpu_seconds"),
                         "correct": r["evaluation_correct"], "total": r["evaluation_total"]}
                        for r in eps]
            return cmd, None, parse
        return build

    def torch_build(threads):
        def build():
            env = dict(os.environ)
            env.pop("OPENBLAS_CORETYPE", None)
            env.pop("OPENBLAS_L2_SIZE", None)
            cmd = [PY, os.path.join(HERE, "torch_conv.py"), "--pkl", pkl, "--batch",
                   str(w["batch"]), "--eta", str(w["eta"]), "--epochs",
                   str(w["epochs"]["torch"]), "--threads", str(threads)]

            def parse(stdout):
                d = json.loads(stdout.strip().splitlines()[-1])
                parse.blas = d.get("blas", [])
                return d["epochs"]
            return cmd, env, parse
        return build

    for t in args.conv_threads:
        out.append(("nnet defaults" if t is None else "nnet %dt" % t, "nnet", nnet_build(t)))
    if not args.skip_torch:
        for t in args.torch_threads.get(w["id"], (1, 2)):
            out.append(("pytorch %dt" % t, "torch", torch_build(t)))
    return out


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def peak_gflops(args):
    exe = args.peak
    if not exe or not os.path.exists(exe):
        return None
    best = None
    for _ in range(3):
        d = json.loads(subprocess.run([exe, "1024", "20"], capture_output=True,
                                      text=True).stdout)
        if best is None or d["sgemm_gflops_all"] > best["sgemm_gflops_all"]:
            best = d
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--workloads", default="1,2,3")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--nnet", default=os.path.join(ROOT, "build-perf", "nnet"))
    ap.add_argument("--peak", default=os.path.join(ROOT, "build-perf", "bench", "peak_sgemm"))
    ap.add_argument("--skip-numpy", action="store_true")
    ap.add_argument("--skip-torch", action="store_true")
    ap.add_argument("--json", help="also write all raw results here")
    ap.add_argument("--torch-1t-only", default="",
                    help="workloads (e.g. 2,3) where PyTorch runs on 1 thread only: on a shared "
                         "machine its 2-thread OpenMP spin-waits can make an epoch minutes long")
    ap.add_argument("--conv-threads", default="default,1,2",
                    help="workloads 4, 5: nnet runs, each 'default' (no thread flags: the first "
                         "row, the one ratios are taken against) or N (--conv-threads N "
                         "--threads N)")
    args = ap.parse_args()
    args.conv_threads = [None if t == "default" else int(t)
                         for t in args.conv_threads.split(",") if t]
    args.reference = nnet_supports_reference(args.nnet)
    args.torch_threads = {int(x): (1,) for x in args.torch_1t_only.split(",") if x}

    print("load average at start: %.2f %.2f %.2f" % os.getloadavg())
    peak = peak_gflops(args)
    if peak:
        print("peak (Eigen sgemm n=%d): %.1f GFLOP/s on 1 thread, %.1f on %d threads; "
              "register-only FMA loop %.1f GFLOP/s per core" % (
                  peak["n"], peak["sgemm_gflops_1t"], peak["sgemm_gflops_all"], peak["cores"],
                  peak["fma_gflops_1core"]))
    raw = {"peak": peak, "workloads": {}}
    for wid in [int(x) for x in args.workloads.split(",")]:
        w = dict(WORKLOADS[wid], id=wid)
        cs = contenders(w, args)
        runs = {label: [] for label, _, _ in cs}
        blas = {}
        for r in range(args.rounds):
            for label, key, build in cs:
                cmd, env, parse = build()
                out, err, rss, wall = measured_run(cmd, env)
                eps = parse(out)
                blas[label] = getattr(parse, "blas", None)
                runs[label].append({"epochs": eps, "rss_mib": rss, "wall_s": wall})
                print("  [w%d round %d] %-16s train %.4f s/epoch  eval %.4f s  rss %.0f MiB" % (
                    wid, r + 1, label, med([e["train_s"] for e in eps]),
                    med([e["eval_s"] for e in eps]), rss), file=sys.stderr, flush=True)
        ftrain, feval = flops(w)
        rows = []
        for label, _, _ in cs:
            rr = runs[label]
            tr = med([med([e["train_s"] for e in x["epochs"]]) for x in rr])
            ev = med([med([e["eval_s"] for e in x["epochs"]]) for x in rr])
            acc = med([x["epochs"][0]["correct"] / x["epochs"][0]["total"] for x in rr])
            cpus = [e.get("train_cpu_s") for x in rr for e in x["epochs"]]
            cpu = med([c for c in cpus if c]) if all(cpus) else None
            rows.append(dict(label=label, train=tr, eval=ev, total=tr + ev, cpu=cpu,
                             ips=w["n_train"] / tr, rss=max(x["rss_mib"] for x in rr), acc=acc,
                             epochs=len(rr[0]["epochs"]), blas=blas.get(label)))
        torch_rows = [r for r in rows if r["label"].startswith("pytorch")]
        best_torch = min(torch_rows, key=lambda r: r["total"]) if torch_rows else None
        base = rows[0]
        print()
        print("### Workload %d: %s" % (wid, w["name"]))
        print()
        print("FLOPs per epoch: training %.3g (%d images x %d), evaluation %.3g" % (
            ftrain, w["n_train"], ftrain // w["n_train"], feval))
        print()
        print("| contender | train s/epoch | train CPU s/epoch | eval s/epoch | epoch s | "
              "train us/img | peak RSS MiB | test acc. after epoch 1 | epoch time / nnet |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            mark = " (better)" if best_torch is r and len(torch_rows) > 1 else ""
            print("| %s%s | %.4f | %s | %.4f | %.4f | %.1f | %.0f | %.2f%% | %.2fx |" % (
                r["label"], mark, r["train"], "%.4f" % r["cpu"] if r["cpu"] else "-", r["eval"],
                r["total"], 1e6 / r["ips"], r["rss"], 100 * r["acc"], r["total"] / base["total"]))
        bound = None
        if peak:
            # The best dense-kernel rate measured (on a loaded machine the 2-thread sgemm can lose
            # to the 1-thread one), and the arithmetic ceiling: cores x the register-only FMA rate.
            for what, gf in (("FLOP bound (sgemm %.0f GFLOP/s)",
                              max(peak["sgemm_gflops_all"], peak["sgemm_gflops_1t"])),
                             ("FMA ceiling (%.0f GFLOP/s)",
                              peak["cores"] * peak["fma_gflops_1core"])):
                g = gf * 1e9
                b = (ftrain + feval) / g
                bound = bound or b
                print(("| " + what + " | %.4f | | %.4f | %.4f | %.1f | | | %.2fx |") % (
                    gf, ftrain / g, feval / g, b, 1e6 * (ftrain / g) / w["n_train"],
                    b / base["total"]))
        print()
        ds_mib = (w["n_train"] + w["n_test"]) * 784 * 4 / 2**20
        lines = ["nnet peak RSS %.0f MiB vs limit %.0f MiB (float32 data %.1f MiB x 1.25 + 30)" % (
            base["rss"], ds_mib * 1.25 + 30, ds_mib)]
        for r in rows[1:]:
            lines.append("%s / nnet = %.1fx per epoch" % (r["label"], r["total"] / base["total"]))
        if w.get("conv"):
            # The goal is about training: best nnet against best PyTorch, wall and CPU time.
            nn = [r for r in rows if r["label"].startswith("nnet")]
            bn = min(nn, key=lambda r: r["train"])
            if best_torch:
                lines.append("training: best PyTorch (%s) / best nnet (%s) = %.2fx wall" % (
                    best_torch["label"], bn["label"], best_torch["train"] / bn["train"]))
            # The goal: nnet with its default flags against PyTorch on 2 threads, whole epoch.
            t2 = [r for r in rows if r["label"] == "pytorch 2t"]
            if t2:
                lines.append("epoch (train + eval): pytorch 2t / %s = %.2fx" % (
                    base["label"], t2[0]["total"] / base["total"]))
                if bn["cpu"] and best_torch["cpu"]:
                    lines.append("training CPU time: %s %.1f us/img, %s %.1f us/img (%.2fx)" % (
                        best_torch["label"], 1e6 * best_torch["cpu"] / w["n_train"], bn["label"],
                        1e6 * bn["cpu"] / w["n_train"], best_torch["cpu"] / bn["cpu"]))
        if bound:
            lines.append("nnet / FLOP bound (sgemm) = %.2fx" % (base["total"] / bound))
        for l in lines:
            print("- " + l)
        for r in rows:
            if r["blas"]:
                print("- %s BLAS: %s" % (r["label"], ", ".join(r["blas"])))
        print()
        raw["workloads"][wid] = {"rows": rows, "runs": runs, "flops": [ftrain, feval]}
    print("load average at end: %.2f %.2f %.2f" % os.getloadavg())
    if args.json:
        with open(args.json, "w") as f:
            json.dump(raw, f, indent=1)


if __name__ == "__main__":
    main()
