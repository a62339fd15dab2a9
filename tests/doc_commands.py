#!/usr/bin/env python3
"""The commands shown in README.md and docs/*.md, checked against the built nnet so the pages
cannot drift from the program.

Every command shown is checked: its subcommand must exist and every flag it gives must be one
that `nnet SUBCOMMAND --help` lists (a renamed or removed flag fails the test). Commands are
  - lines of fenced blocks tagged sh, bash, shell or console (in console blocks and untagged
    blocks only the `$ ` lines: the others are output), with `\\` continuations joined;
  - inline code spans and indented code lines that start with nnet, nnet-mpi, build/nnet...
README.md's commands are also run, in page order, in one scratch folder (so a model saved by one
is there for the next), with `nnet` on PATH, ./build the build folder and NNET_DATA the data
(../shared/data/mnist-first10k when present, else the default data of scripts/fetch-data.sh);
each must exit 0. docs/*.md's commands are only checked unless a block is marked `run`.

A marker `<!-- test: KIND [why] -->` on the line before a fenced block, or anywhere in a table
row, says how its commands are treated:
  run      run them (README.md's default)
  check    check them only (they need files a reader brings, install packages, ...)
  slow     check them; run them too with --slow
  gpu      run and check them only with --gpu (they need a CUDA device)
  mpi      run them when mpirun and nnet-mpi exist, else check them only
  server   start the command with --port 0, wait for its URL, GET /healthz, stop it with SIGTERM
  python   run the block with Debian's python3 and the built module (skipped without either,
           or without mnist.pkl.gz in the data)
  file P   the block must be exactly the file P of the source tree (a listing cannot drift)

Usage: doc_commands.py --source SRC --nnet BUILD/nnet [--data DIR] [--slow] [--gpu] [--list]
Exit status: 0 all checked and run, 1 a failure, 77 checks passed but nothing could run (no data).
"""

import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

PROGRAMS = ("nnet", "nnet-mpi")
MARKER = re.compile(r"<!--\s*test:\s*([a-z]+)\s*(.*?)\s*-->")
SHELL_LANGS = {"sh", "bash", "shell", "console"}


class Command:
    def __init__(self, doc, line, text, kind, runnable, arg=""):
        self.doc, self.line, self.text, self.kind, self.arg = doc, line, text, kind, arg
        self.runnable = runnable  # a shell command of a block or table row (not prose)

    def where(self):
        return f"{self.doc}:{self.line}"


def join_continuations(lines):
    """[(line number, text)] with trailing-backslash lines joined."""
    out, buf, start = [], "", None
    for n, text in lines:
        if start is None:
            start = n
        if text.rstrip().endswith("\\"):
            buf += text.rstrip()[:-1] + " "
            continue
        out.append((start, buf + text))
        buf, start = "", None
    if buf:
        out.append((start, buf))
    return out


def starts_with_program(text):
    """Whether `text` is a command line of ours: nnet SUB..., build/nnet ..., mpirun ..."""
    words = text.split()
    if len(words) < 2:  # a program's name alone is prose
        return False
    first = words[0]
    return (first in PROGRAMS or first == "mpirun" or
            re.fullmatch(r"(\./)?build[\w.-]*/nnet(-mpi)?", first) is not None or
            re.fullmatch(r"[\w./$-]*/bin/nnet(-mpi)?", first) is not None)


def extract(path, name, default_kind):
    """The commands of one Markdown file."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    cmds = []
    i, pending = 0, None  # pending: (kind, arg) of a marker line
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        m = MARKER.fullmatch(stripped)
        if m:
            pending = (m.group(1), m.group(2))
            i += 1
            continue
        fence = re.match(r"^(\s*)(```+|~~~+)\s*([\w+-]*)", line)
        if fence:
            indent, ticks, lang = fence.group(1), fence.group(2), fence.group(3).lower()
            body, j = [], i + 1
            while j < len(lines) and not lines[j].strip().startswith(ticks):
                body.append((j + 1, lines[j][len(indent):] if lines[j].startswith(indent) else lines[j]))
                j += 1
            kind, arg = pending if pending else (default_kind, "")
            if kind == "file":
                cmds.append(Command(name, i + 1, "\n".join(t for _, t in body), "file", False, arg))
            elif lang == "python":
                if pending and kind in ("python", "run"):
                    cmds.append(Command(name, i + 1, "\n".join(t for _, t in body), "python", True))
            else:
                # Prompted lines ("$ cmd", output after) in any block: only those are commands.
                console = (lang not in ("sh", "bash", "shell") or
                           any(t.startswith("$ ") for _, t in body))
                if lang in SHELL_LANGS or lang == "":
                    picked = []
                    for n, t in body:
                        if console:
                            if t.startswith("$ "):
                                picked.append((n, t[2:]))
                            elif picked and picked[-1][1].rstrip().endswith("\\"):
                                picked.append((n, t))  # a continued command
                            elif lang == "" and starts_with_program(t.strip()):
                                picked.append((n, t))  # a command shown without a prompt
                        elif t.strip() and not t.lstrip().startswith("#"):
                            picked.append((n, t))
                    for n, t in join_continuations(picked):
                        # In untagged blocks only commands of ours count (not Python or output).
                        if lang == "" and not starts_with_program(t.strip()):
                            continue
                        cmds.append(Command(name, n, t.strip(), kind, True, arg))
            pending = None
            i = j + 1
            continue
        if stripped:
            pending = None  # a marker belongs to the block right after it
        row = stripped.startswith("|")
        row_marker = MARKER.search(line) if row else None
        row_kind, row_arg = (row_marker.group(1), row_marker.group(2)) if row_marker else (default_kind, "")
        # Indented code lines (docs' four-space blocks).
        if line.startswith("    ") and not row:
            t = stripped[2:] if stripped.startswith("$ ") else stripped
            if starts_with_program(t):
                cmds.append(Command(name, i + 1, t, "check", False))
        # Inline code spans.
        for span in re.findall(r"`([^`]+)`", line):
            t = span.strip().replace("\\|", "|") if row else span.strip()
            t = t[2:] if t.startswith("$ ") else t
            if starts_with_program(t):
                cmds.append(Command(name, i + 1, t, row_kind if row else "check", row, row_arg))
        i += 1
    return cmds


# ---------- flag checks ----------

def help_flags(binary, sub):
    args = [binary] + ([sub] if sub else []) + ["--help"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    return set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", r.stdout + r.stderr))


class Flags:
    def __init__(self, nnet):
        top = subprocess.run([nnet, "--help"], capture_output=True, text=True, timeout=60).stdout
        # CLI11: "Subcommands:" then "  train   description".
        part = top.split("Subcommands:", 1)[1] if "Subcommands:" in top else ""
        self.subcommands = set(re.findall(r"^\s{2}([a-z]+)\s", part, re.M))
        self.top = help_flags(nnet, None)
        self.sub = {s: help_flags(nnet, s) for s in self.subcommands}
        if "book" in self.sub and "train" in self.sub:
            self.sub["book"] |= self.sub["train"]  # `nnet book NAME [any train flag]`

    def problems(self, text):
        """What is wrong with the nnet invocations in `text` (a shell command line)."""
        try:
            lex = shlex.shlex(text, posix=True, punctuation_chars="|&;<>")
            lex.whitespace_split = True
            lex.commenters = "#"
            tokens = list(lex)
        except ValueError:
            tokens = text.split()
        def is_op(t):
            return t != "" and set(t) <= set("|&;<>")

        out, k = [], 0
        while k < len(tokens):
            prog = os.path.basename(tokens[k])
            if prog not in PROGRAMS:
                k += 1
                continue
            k += 1
            if k >= len(tokens) or is_op(tokens[k]):
                break
            sub = tokens[k].strip("[]")
            allowed = set(self.top)
            if sub.startswith("-"):
                if sub not in self.top:
                    out.append(f"{prog} has no option {sub}")
            elif sub in self.sub:
                allowed |= self.sub[sub]
            else:
                out.append(f"{prog} has no subcommand '{sub}' (it has {', '.join(sorted(self.subcommands))})")
                continue
            if prog == "nnet-mpi":
                allowed.add("--mpi-timeout")
            k += 1
            while k < len(tokens) and not is_op(tokens[k]):
                tok = tokens[k].strip("[]()")
                if re.fullmatch(r"--?[A-Za-z][\w-]*(=.*)?", tok):
                    flag = tok.split("=", 1)[0]
                    if flag not in allowed:
                        out.append(f"nnet {sub} has no flag {flag}")
                k += 1
        return out


# ---------- running ----------

def run_shell(cmd, cwd, env, timeout):
    return subprocess.run(["bash", "-o", "pipefail", "-c", cmd], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def run_server(cmd, cwd, env):
    """Starts `cmd` with --port 0, waits for its URL, asks /healthz, stops it; an error or ""."""
    p = subprocess.Popen(["bash", "-c", "exec " + cmd + " --port 0"], cwd=cwd, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        m = re.search(r"(http://[^/\s]+/)", line)
        if not m:
            p.kill()
            return f"no URL on the first line: {line!r}; stderr: {p.stderr.read()[-2000:]}"
        with urllib.request.urlopen(m.group(1) + "healthz", timeout=10) as r:
            if r.status != 200:
                return f"GET /healthz answered {r.status}"
        p.send_signal(signal.SIGTERM)
        code = p.wait(timeout=10)
        return "" if code == 0 else f"exit status {code} after SIGTERM"
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def find_data(arg):
    for d in (os.environ.get("NNET_SHARED_DATA"), arg):
        if d and os.path.isdir(d):
            return os.path.abspath(d)
    for d in (os.environ.get("NNET_DATA"),
              os.path.join(os.environ.get("XDG_DATA_HOME") or
                           os.path.expanduser("~/.local/share"), "nnet")):
        if d and os.path.isdir(d):
            return os.path.abspath(d)
    return ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", required=True)
    ap.add_argument("--nnet", required=True)
    ap.add_argument("--data", default="")
    ap.add_argument("--slow", action="store_true")
    ap.add_argument("--gpu", action="store_true")
    ap.add_argument("--list", action="store_true", help="print the commands found, run nothing")
    ap.add_argument("--timeout", type=float, default=300)
    a = ap.parse_args()

    src = os.path.abspath(a.source)
    nnet = os.path.abspath(a.nnet)
    build = os.path.dirname(nnet)
    docs = ["README.md"] + sorted("docs/" + f for f in os.listdir(os.path.join(src, "docs"))
                                   if f.endswith(".md"))
    cmds = []
    for d in docs:
        cmds += extract(os.path.join(src, d), d, "run" if d == "README.md" else "check")
    if a.list:
        for c in cmds:
            print(f"{c.where()}: [{c.kind}{'' if c.runnable else ', prose'}] {c.text}")
        return 0

    failures = []
    flags = Flags(nnet)
    # The checker itself: it must see a made-up flag and subcommand, and pass a real command.
    if (not flags.problems("nnet train --no-such-flag 1") or not flags.problems("nnet no-such-sub")
            or flags.problems("build/nnet train --eta 3.0 -q | head -1")):
        print("doc_commands: the flag check does not work against " + nnet, file=sys.stderr)
        return 1
    checked = 0
    for c in cmds:
        if c.kind in ("file", "python") or (c.kind == "gpu" and not a.gpu):
            continue
        for p in flags.problems(c.text):
            failures.append(f"{c.where()}: {p}: {c.text}")
        checked += 1
    for c in cmds:
        if c.kind != "file":
            continue
        want = open(os.path.join(src, c.arg), encoding="utf-8").read().rstrip("\n")
        if c.text.rstrip("\n") != want:
            failures.append(f"{c.where()}: the listing differs from {c.arg}")
    print(f"doc_commands: {checked} commands checked against `nnet ... --help` in {len(docs)} pages")

    data = find_data(a.data)
    ran = skipped = 0
    if not data:
        print("doc_commands: SKIP running: no data (../shared/data/mnist-first10k, "
              "scripts/fetch-data.sh)")
    else:
        work = tempfile.mkdtemp(prefix="nnet-doc-commands-")
        try:
            os.symlink(build, os.path.join(work, "build"))
            os.symlink(os.path.join(src, "examples"), os.path.join(work, "examples"))
            bindir = os.path.join(work, ".bin")
            os.mkdir(bindir)
            for prog in PROGRAMS:
                if os.path.exists(os.path.join(build, prog)):
                    os.symlink(os.path.join(build, prog), os.path.join(bindir, prog))
            pkl = os.path.join(data, "mnist.pkl.gz")
            if os.path.exists(pkl):
                os.symlink(pkl, os.path.join(work, "mnist.pkl.gz"))
            # HOME too: what a command writes under ~ lands in the scratch folder.
            env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""),
                       HOME=work, NNET_DATA=data, OMPI_ALLOW_RUN_AS_ROOT="1",
                       OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
            have_mpi = shutil.which("mpirun") and os.path.exists(os.path.join(build, "nnet-mpi"))
            python = "/usr/bin/python3"
            pymod = os.path.join(build, "python")
            for c in cmds:
                if not c.runnable or c.kind in ("check", "file"):
                    continue
                skip = ""
                if c.kind == "slow" and not a.slow:
                    skip = "slow (--slow runs it)"
                elif c.kind == "gpu" and not a.gpu:
                    skip = "needs a GPU (--gpu runs it)"
                elif c.kind == "mpi" and not have_mpi:
                    skip = "no mpirun or nnet-mpi"
                elif c.kind == "python" and not (os.path.exists(python) and os.path.isdir(pymod)):
                    skip = "no /usr/bin/python3 or no build/python module"
                elif c.kind == "python" and not os.path.exists(pkl):
                    skip = "the data has no mnist.pkl.gz"
                if skip:
                    print(f"doc_commands: skip {c.where()} ({skip}): {c.text.splitlines()[0]}")
                    skipped += 1
                    continue
                t0 = time.time()
                try:
                    if c.kind == "server":
                        err = run_server(c.text, work, env)
                    elif c.kind == "python":
                        r = subprocess.run([python, "-c", c.text], cwd=work, timeout=a.timeout,
                                           env=dict(env, PYTHONPATH=pymod),
                                           capture_output=True, text=True)
                        err = "" if r.returncode == 0 else f"exit {r.returncode}: {r.stderr[-3000:]}"
                    else:
                        r = run_shell(c.text, work, env, a.timeout)
                        err = "" if r.returncode == 0 else (
                            f"exit {r.returncode}\n--- stdout\n{r.stdout[-1500:]}\n"
                            f"--- stderr\n{r.stderr[-3000:]}")
                except subprocess.TimeoutExpired:
                    err = f"still running after {a.timeout:.0f} s"
                took = time.time() - t0
                ran += 1
                first = c.text.splitlines()[0]
                print(f"doc_commands: {'ok  ' if not err else 'FAIL'} {c.where()} ({took:.1f} s): {first}")
                if err:
                    failures.append(f"{c.where()}: `{c.text}` failed: {err}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    for f in failures:
        print("FAIL " + f, file=sys.stderr)
    print(f"doc_commands: {ran} run, {skipped} skipped, {len(failures)} failures")
    if failures:
        return 1
    return 77 if not data else 0


if __name__ == "__main__":
    sys.exit(main())
