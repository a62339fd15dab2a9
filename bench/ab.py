#!/usr/bin/python3
"""Two nnet binaries side by side on compare.py's workloads, interleaved (round r runs A then B
when r is odd, B then A when even), each run a fresh process whose peak RSS comes from wait4().
For a change that must not cost speed: the old binary against the new one, same flags.

  /usr/bin/python3 bench/ab.py --a OLD/nnet --b build/nnet --workloads 1,4,5 --rounds 5

Workload 1 runs the default fused step and --grad-chunk 5; the conv workloads run at
--conv-threads N --threads N for each N of --threads (the same flags for both binaries, as the
two may have different defaults). Reported per case: the median over rounds of each run's median
training and evaluation seconds per epoch, peak RSS, and B / A."""
import argparse
import json
import os
import statistics
import tempfile

from compare import CONV_LAYERS, WORKLOADS, idx_only_dir, measured_run


def cases(workloads, threads):
    """(label, flags) per case; the data flags come from compare.py's workloads."""
    out = []
    for wid in workloads:
        w = WORKLOADS[wid]
        if w.get("conv"):
            base = ["--data", w["data"], "--layers", CONV_LAYERS, "--activation", "relu",
                    "--batch", str(w["batch"]), "--eta", str(w["eta"]), "--epochs", "2",
                    "--no-shuffle", "--eval", "test"]
            for t in threads:
                out.append(("w%d conv batch %d, %d thread(s)" % (wid, w["batch"], t),
                            base + ["--conv-threads", str(t), "--threads", str(t)]))
        else:
            data = idx_only_dir(w["data"])
            base = ["--data", data, "--sizes", ",".join(map(str, w["sizes"])), "--batch",
                    str(w["batch"]), "--eta", str(w["eta"]), "--epochs", "10", "--eval", "test"]
            out.append(("w%d dense, fused step" % wid, base))
            out.append(("w%d dense, --grad-chunk 5" % wid, base + ["--grad-chunk", "5"]))
    return out


def one_run(nnet, flags):
    hist = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
    try:
        _, _, rss, _ = measured_run([nnet, "train", *flags, "--history", hist, "-q"])
        with open(hist) as f:
            h = json.load(f)
    finally:
        os.unlink(hist)
    eps = h["epochs"] if isinstance(h, dict) else h
    return (statistics.median(r["train_seconds"] for r in eps),
            statistics.median(r["eval_seconds"] for r in eps), rss)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", required=True, help="the first binary (old)")
    ap.add_argument("--b", required=True, help="the second binary (new)")
    ap.add_argument("--workloads", default="1,4,5")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", default="1,2", help="conv workloads: thread counts")
    args = ap.parse_args()
    runs = cases([int(x) for x in args.workloads.split(",")],
                 [int(x) for x in args.threads.split(",")])
    got = {(label, who): [] for label, _ in runs for who in "ab"}
    print("load average at start: %.2f %.2f %.2f" % os.getloadavg(), flush=True)
    for r in range(args.rounds):
        for label, flags in runs:
            order = "ab" if r % 2 == 0 else "ba"
            for who in order:
                got[(label, who)].append(one_run(getattr(args, who), flags))
        print("round %d done" % (r + 1), flush=True)
    print("\n| case | A train s/epoch | B train s/epoch | B/A | A eval s | B eval s | B/A "
          "| A RSS MiB | B RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, _ in runs:
        a, b = got[(label, "a")], got[(label, "b")]
        med = lambda xs, i: statistics.median(x[i] for x in xs)  # noqa: E731
        print("| %s | %.4f | %.4f | %.3f | %.4f | %.4f | %.3f | %.1f | %.1f |" % (
            label, med(a, 0), med(b, 0), med(b, 0) / med(a, 0), med(a, 1), med(b, 1),
            med(b, 1) / med(a, 1), max(x[2] for x in a), max(x[2] for x in b)))
    print("\nA = %s\nB = %s\nload average at end: %.2f %.2f %.2f" % (
        args.a, args.b, *os.getloadavg()))


if __name__ == "__main__":
    main()
