"""Builds nnet's Python extension with CMake for `pip install --no-build-isolation .`.

The CMake build goes to build/pip (NNET_BUILD_DIR=B reuses an existing build instead, e.g. the
one scripts/build.sh made); only the _nnet target is built, and its .so joins the package.
"""
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build = os.environ.get("NNET_BUILD_DIR") or os.path.join(ROOT, "build", "pip")
        build = os.path.abspath(build)
        if not os.path.exists(os.path.join(build, "CMakeCache.txt")):
            subprocess.check_call(["cmake", "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release",
                                   "-DNNET_BUILD_TESTS=OFF", f"-DPython_EXECUTABLE={sys.executable}"])
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", "2")
        subprocess.check_call(["cmake", "--build", build, "--target", "_nnet", "-j", jobs])
        so = [f for f in os.listdir(os.path.join(build, "python", "nnet"))
              if f.startswith("_nnet") and f.endswith(".so")]
        if len(so) != 1:
            raise RuntimeError(f"expected one _nnet*.so in {build}/python/nnet, found {so}")
        dest = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(os.path.join(build, "python", "nnet", so[0]), dest)


setup(ext_modules=[Extension("nnet._nnet", sources=[])], cmdclass={"build_ext": CMakeBuild})
