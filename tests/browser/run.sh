#!/usr/bin/env bash
# CTest entry for the browser test: installs playwright-core from package-lock.json (npm ci, into
# the build dir; it never downloads a browser) and runs serve_browser_test.js against Debian's
# chromium. Exit 77 (skipped) when node, npm or chromium are missing; fails without real MNIST:
# the shared folder (MNIST_DIR, or $NNET_SHARED_DATA), else $NNET_NPM_TEST_DATA (docs/testing.md).
# Usage: run.sh NNET_BINARY MNIST_DIR OUT_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
nnet=$1 mnist=${NNET_SHARED_DATA:-$2} out=$3
command -v node >/dev/null && command -v npm >/dev/null || { echo "SKIP: node/npm not installed"; exit 77; }
[ -x /usr/bin/chromium ] || { echo "SKIP: /usr/bin/chromium not installed"; exit 77; }
[ -f "$mnist/t10k-images-idx3-ubyte.gz" ] || mnist=${NNET_NPM_TEST_DATA:-}
[ -n "$mnist" ] && [ -f "$mnist/t10k-images-idx3-ubyte.gz" ] ||
  { echo "FAIL: no real MNIST: neither the shared folder nor \$NNET_NPM_TEST_DATA"; exit 1; }
mkdir -p "$out/npm"
# Reinstall only when the lock file changed.
if ! cmp -s "$here/package-lock.json" "$out/npm/package-lock.json" || [ ! -d "$out/npm/node_modules/playwright-core" ]; then
  cp "$here/package.json" "$here/package-lock.json" "$out/npm/"
  (cd "$out/npm" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
NODE_PATH="$out/npm/node_modules" exec node "$here/serve_browser_test.js" "$nnet" "$mnist" "$out"
