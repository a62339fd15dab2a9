"""examples/network.ipynb (the book's chapter-1 notebook on nnet) executed headless: nbclient +
ipykernel on this very interpreter; its epoch lines must be `nnet train`'s."""
import json
import os
import subprocess
import sys

import pytest

nbformat = pytest.importorskip("nbformat", reason="Debian python3-nbformat absent")
nbclient = pytest.importorskip("nbclient", reason="Debian python3-nbclient absent")
pytest.importorskip("ipykernel", reason="Debian python3-ipykernel absent")

from mnist_data import PKL, ROOT  # noqa: E402

NOTEBOOK = os.path.join(ROOT, "examples", "network.ipynb")


def test_notebook_prints_the_cli_lines(tmp_path, monkeypatch):
    # A kernel spec for this interpreter (Debian's /usr/bin/python3 under CTest), whatever
    # `python3` comes first on PATH.
    spec = tmp_path / "kernels" / "nnet-python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "nnet test", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    import nnet  # the kernel imports the very package this test sees (build/python)
    monkeypatch.setenv("PYTHONPATH", os.path.dirname(os.path.dirname(os.path.abspath(
        nnet.__file__))))
    monkeypatch.setenv("MNIST_PKL", os.path.abspath(PKL))
    monkeypatch.setenv("EPOCHS", "3")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, kernel_name="nnet-python3", timeout=300,
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    cells = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in cells for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    sgd = next(c for c in cells if ".SGD(" in c.source)
    printed = "".join(o.text for o in sgd.outputs if o.output_type == "stream")
    cli = subprocess.run([os.environ.get("NNET_BINARY", os.path.join(ROOT, "build", "nnet")),
                          "train", "--data", PKL, "--eta", "3.0", "--epochs", "3", "-q"],
                         capture_output=True, text=True, check=True).stdout
    assert printed == cli and printed.count("Epoch ") == 3 and printed.startswith("Epoch 0: ")
    # The digit cell shows a picture (matplotlib's, or nnet.show's PNG through _repr_png_).
    digit = next(c for c in cells if "imshow" in c.source)
    assert any("image/png" in o.get("data", {}) for o in digit.outputs), digit.outputs
