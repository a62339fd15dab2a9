#!/usr/bin/env bash
# Regenerates the pictures in docs/images/ from the real MNIST digits (../shared/data or $1):
# a digit grid, learning curves of two runs, the vanishing-gradient figure, first-layer weights,
# the mistakes gallery and confusion matrix, and what `nnet predict` sees of a redrawn digit.
# Usage: scripts/make-doc-images.sh [DATA] [BUILD_DIR]   (takes about a minute on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data/mnist-first10k}
BUILD=${2:-build}
NNET="$BUILD/nnet"
OUT=docs/images
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT"

# 1. The first 60 test digits with their labels.
"$NNET" show --data "$DATA" --grid 6x10 --scale 2 -q -o "$OUT/digits.png"

# 2. Learning curves: the book's chapter 3 comparison, cross-entropy with and without L2.
"$NNET" train --data "$DATA" --sizes 784,30,10 --cost cross-entropy --epochs 15 --eta 0.5 \
  --monitor all --history "$TMP/no-regularization.json" -q > /dev/null
"$NNET" train --data "$DATA" --sizes 784,30,10 --cost cross-entropy --epochs 15 --eta 0.5 \
  --lambda 5 --monitor all --history "$TMP/lambda-5.json" --save "$TMP/model.json" -q > /dev/null
"$NNET" plot "$TMP/no-regularization.json" "$TMP/lambda-5.json" -o "$OUT/curves.png"

# 3. Chapter 5: bias-gradient norms of [784,30,30,30,10] shrink toward the input.
"$NNET" train --data "$DATA" --sizes 784,30,30,30,10 --cost cross-entropy --epochs 15 \
  --eta 0.1 --init default --record-gradients --history "$TMP/deep.json" -q > /dev/null
"$NNET" plot --gradients "$TMP/deep.json" -o "$OUT/gradients.png"

# 4. What the 30 hidden neurons of the regularized model look for.
"$NNET" show --model "$TMP/model.json" --weights -o "$OUT/weights.png"

# 5. Mistakes (first 1000 test digits, to keep the PNG small) and the confusion matrix.
if "$NNET" eval --help 2>/dev/null | grep -q -- --mistakes; then
  "$NNET" eval --model "$TMP/model.json" --data "$DATA" --limit 1000 --mistakes "$OUT/mistakes.png" \
    --confusion "$OUT/confusion.png" > /dev/null
fi

# 6. Your own handwriting: a test digit redrawn big, dark on white; what the network saw.
/usr/bin/python3 - "$DATA" "$TMP/seven.png" <<'PY'
import gzip, struct, sys, zlib
d = gzip.open(sys.argv[1] + "/t10k-images-idx3-ubyte.gz").read()[16:16 + 784]
W, H, S = 240, 300, 7      # a 7x enlarged digit, off-centre, black ink on white paper
rows = []
for y in range(H):
    row = bytearray([0])
    for x in range(W):
        r, c = (y - 60) // S, (x - 30) // S
        v = d[r * 28 + c] if 0 <= r < 28 and 0 <= c < 28 else 0
        row.append(255 - v)
    rows.append(bytes(row))
def chunk(t, b):
    return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 0, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b"")
open(sys.argv[2], "wb").write(png)
PY
"$NNET" predict --model "$TMP/model.json" "$TMP/seven.png" --show-input "$OUT/predict-input.png"
ls -l "$OUT"
