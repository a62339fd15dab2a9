"""`pip install --no-build-isolation .` into a venv made with --system-site-packages (Debian's
setuptools/numpy, no PyPI): the installed package imports and trains outside the source tree.
NNET_BUILD_DIR points setup.py at the CMake build CTest runs from, so nothing is recompiled."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_pip_install_in_a_venv(tmp_path):
    import nnet
    build = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(nnet.__file__))))
    venv = tmp_path / "venv"
    # --without-pip: the system's pip (python3-pip), seen through --system-site-packages,
    # installs into the venv as well and saves ensurepip's seconds.
    r = subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                        str(venv)], capture_output=True, text=True)
    py = str(venv / "bin" / "python")
    if r.returncode != 0 or subprocess.run([py, "-m", "pip", "--version"],
                                           capture_output=True).returncode != 0:
        pytest.skip("python3-venv / python3-pip absent: " + r.stderr[-200:])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["NNET_BUILD_DIR"] = build
    env["PIP_NO_INDEX"] = "1"  # no PyPI: everything must come from the system site
    r = subprocess.run([py, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "-q",
                        "--no-compile", ROOT], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    code = ("import nnet, numpy as np, os; assert 'site-packages' in nnet.__file__, nnet.__file__;"
            "X = np.random.RandomState(0).rand(40, 4).astype(np.float32);"
            "net = nnet.Network([4, 3, 2]).fit(X, (X[:, 0] > .5).astype(int), epochs=2);"
            "import nnet.sklearn; print('ok', net.predict(X).shape)")
    r = subprocess.run([py, "-c", code], capture_output=True,
                       text=True, env=env, cwd=str(tmp_path))
    assert r.returncode == 0 and "ok (40,)" in r.stdout, r.stdout + r.stderr
