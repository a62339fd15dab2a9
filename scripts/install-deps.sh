#!/usr/bin/env bash
# Installs the Debian 12 packages nnet needs to build, test and fetch data. Idempotent: runs
# apt-get only when something is missing. Needs root (or sudo).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git
  libeigen3-dev zlib1g-dev libpng-dev libhdf5-dev nlohmann-json3-dev libcli11-dev libstb-dev libcairo2-dev fonts-dejavu-core
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  python3-numpy python3-h5py
  python3-dev pybind11-dev python3-pytest
  python3-sklearn python3-pandas python3-nbclient python3-nbformat python3-ipykernel python3-venv python3-pip
  libopenmpi-dev openmpi-bin
  libcpp-httplib-dev chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm (for scripts/fetch-data.sh) may come from another Node.js build whose nodejs package
# conflicts with Debian's npm: ask apt for it only when there is no npm at all.
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
