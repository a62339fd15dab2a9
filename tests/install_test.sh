#!/usr/bin/env bash
# CTest install_example: the installed library is usable from outside the tree.
#  1. `cmake --install BUILD --prefix P` into a temporary P: programs, the libnnet_*.a modules, headers,
#     the CMake package and nnet.pc are where they should be;
#  2. the installed headers compile with only the installed include path (nothing from src/) and
#     reach no JSON library;
#  3. examples/ is configured and built out of tree with find_package(nnet) against P;
#  4. P is moved elsewhere and examples/mnist.cc is built again through pkg-config (nnet.pc
#     finds its files from where it lies);
#  5. both builds print the notebook's lines, "Epoch 0: c / n", exactly as the installed
#     `nnet train --eta 3.0` prints them for the same run.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR DATA_DIR CXX [LAUNCHER]
# DATA_DIR: real MNIST (../shared/data/mnist-first10k, or $NNET_SHARED_DATA); when absent, a small
# synthetic IDX set is written instead, so the test never skips.
set -euo pipefail
build=$1 src=$2 data=${NNET_SHARED_DATA:-$3} cxx=$4 launcher=${5:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnet-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install_example: FAIL: $*" >&2; exit 1; }
step() { echo "install_example: $*"; }

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; fail "cmake --install"; }
for f in bin/nnet include/nnet/train.h include/nnet/network.h include/nnet/data.h; do
  [ -e "$prefix/$f" ] || fail "$f not installed"
done
lib=$(cd "$prefix" && find . -name libnnet_nn.a | head -1)
config=$(cd "$prefix" && find . -name nnetConfig.cmake | head -1)
pc=$(cd "$prefix" && find . -name nnet.pc | head -1)
[ -n "$lib" ] && [ -n "$config" ] && [ -n "$pc" ] ||
  fail "missing libnnet_nn.a ($lib), nnetConfig.cmake ($config) or nnet.pc ($pc)"
[ -e "$prefix/$(dirname "$config")/nnetTargets.cmake" ] || fail "nnetTargets.cmake not installed"
step "installed: bin/nnet, $lib, include/nnet ($(ls "$prefix/include/nnet" | wc -l) headers), $config, $pc"

# The data: real MNIST when present, else 300 + 100 synthetic IDX images (labels cycling 0..9).
if [ -d "$data" ]; then
  run_data=$data train_size=1000
else
  run_data=$tmp/synthetic train_size=300
  mkdir -p "$run_data"
  idx() {  # idx FILE MAGIC COUNT BYTES_PER_ITEM: IDX header + items
    local be
    be=$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($3 >> 24 & 255)) $(($3 >> 16 & 255)) $(($3 >> 8 & 255)) $(($3 & 255)))
    if [ "$2" = 3 ]; then
      { printf "\\x00\\x00\\x08\\x03$be\\x00\\x00\\x00\\x1c\\x00\\x00\\x00\\x1c"; head -c $(($3 * 784)) /dev/urandom; } >"$1"
    else
      { printf "\\x00\\x00\\x08\\x01$be"; for ((i = 0; i < $3; ++i)); do printf "\\x0$((i % 10))"; done; } >"$1"
    fi
  }
  idx "$run_data/train-images-idx3-ubyte" 3 300
  idx "$run_data/train-labels-idx1-ubyte" 1 300
  idx "$run_data/t10k-images-idx3-ubyte" 3 100
  idx "$run_data/t10k-labels-idx1-ubyte" 1 100
fi
"$prefix/bin/nnet" train --data "$run_data" --eta 3.0 --epochs 1 --train-size "$train_size" -q \
  >"$tmp/want.txt" || fail "the installed nnet train failed"
grep -Eq '^Epoch 0: [0-9]+ / [0-9]+$' "$tmp/want.txt" || fail "nnet train printed: $(cat "$tmp/want.txt")"

# Headers: all of them, on the installed include path and the package's own flags only (a header
# that needs one from src/ or one that was not installed fails here).
pcdir=$prefix/$(dirname "$pc")
if command -v pkg-config >/dev/null; then
  cflags=$(PKG_CONFIG_PATH=$pcdir pkg-config --cflags nnet) || fail "pkg-config --cflags nnet"
  for h in "$prefix"/include/nnet/*.h; do echo "#include <nnet/$(basename "$h")>"; done >"$tmp/all.cc"
  # shellcheck disable=SC2086
  "$cxx" -std=c++20 -fsyntax-only $cflags "$tmp/all.cc" 2>"$tmp/header.log" ||
    { cat "$tmp/header.log"; fail "the installed headers do not compile on their own include path"; }
  step "all $(wc -l <"$tmp/all.cc") installed headers compile ($cflags)"
  # The API names no JSON library (nnet::Value instead): no public header may reach one.
  # shellcheck disable=SC2086
  "$cxx" -std=c++20 -M $cflags "$tmp/all.cc" >"$tmp/header.deps" 2>&1 || fail "listing header dependencies"
  if grep -q nlohmann "$tmp/header.deps"; then
    fail "a public header includes nlohmann/json.hpp: $(tr ' ' '\n' <"$tmp/header.deps" | grep -m1 nlohmann)"
  fi
  step "no installed header includes nlohmann/json.hpp"
else
  step "no pkg-config: header and pkg-config checks skipped"
fi

# The CMake package, from a build folder outside the tree.
launch=()
[ -n "$launcher" ] && launch=(-DCMAKE_CXX_COMPILER_LAUNCHER="$launcher")
cmake -S "$src/examples" -B "$tmp/example" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release "${launch[@]}" >"$tmp/configure.log" 2>&1 ||
  { cat "$tmp/configure.log"; fail "configuring examples/ with find_package(nnet)"; }
cmake --build "$tmp/example" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "building examples/"; }
"$tmp/example/mnist" "$run_data" 1 "$train_size" >"$tmp/cmake.txt" || fail "examples/mnist (CMake) failed"
cmp -s "$tmp/want.txt" "$tmp/cmake.txt" ||
  fail "examples/mnist (CMake) printed '$(cat "$tmp/cmake.txt")', nnet train '$(cat "$tmp/want.txt")'"
step "find_package(nnet) build prints what nnet train prints: $(cat "$tmp/cmake.txt")"

# pkg-config, after moving the prefix: nnet.pc must not hold the old path.
if command -v pkg-config >/dev/null; then
  mv "$prefix" "$tmp/moved"
  pcdir=$tmp/moved/$(dirname "$pc")
  flags=$(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs --static nnet) || fail "pkg-config --static nnet"
  case $flags in *"$prefix/"*) fail "nnet.pc names the install prefix: $flags" ;; esac
  # shellcheck disable=SC2086
  $launcher "$cxx" -std=c++20 -O2 "$src/examples/mnist.cc" -o "$tmp/mnist-pc" $flags 2>"$tmp/pc.log" ||
    { cat "$tmp/pc.log"; fail "building examples/mnist.cc with pkg-config --static nnet"; }
  "$tmp/mnist-pc" "$run_data" 1 "$train_size" >"$tmp/pc.txt" || fail "examples/mnist (pkg-config) failed"
  cmp -s "$tmp/want.txt" "$tmp/pc.txt" ||
    fail "examples/mnist (pkg-config) printed '$(cat "$tmp/pc.txt")', nnet train '$(cat "$tmp/want.txt")'"
  step "pkg-config build (prefix moved) prints the same"
fi
# A bad path is one line and the library's exit code (66: missing input).
set +e
"$tmp/example/mnist" "$tmp/no-such-data" 2>"$tmp/err.txt"
code=$?
set -e
[ "$code" = 66 ] && [ "$(wc -l <"$tmp/err.txt")" = 1 ] ||
  fail "examples/mnist on a missing path: exit $code, stderr: $(cat "$tmp/err.txt")"
step "ok"
