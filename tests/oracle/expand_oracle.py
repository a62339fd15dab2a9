"""expand_mnist.py's expansion loop, transcribed to Python 3 + numpy (no pickle, no file names).

Reads raw float32 images (n, rows*cols) and uint8 labels, writes the expanded set the same way.
usage: expand_oracle.py IMAGES LABELS ROWS COLS SEED SHUFFLE OUT_IMAGES OUT_LABELS
"""
import random
import sys

import numpy as np

images_path, labels_path, rows, cols, seed, do_shuffle, out_images, out_labels = sys.argv[1:]
rows, cols, seed = int(rows), int(cols), int(seed)
xs = np.fromfile(images_path, dtype=np.float32).reshape(-1, rows * cols)
ys = np.fromfile(labels_path, dtype=np.uint8)

# The body of expand_mnist.py, with 28 -> rows/cols.
expanded_training_pairs = []
for x, y in zip(xs, ys):
    expanded_training_pairs.append((x, y))
    image = np.reshape(x, (-1, cols))
    for d, axis, index_position, index in [
            (1,  0, "first", 0),
            (-1, 0, "first", rows - 1),
            (1,  1, "last",  0),
            (-1, 1, "last",  cols - 1)]:
        new_img = np.roll(image, d, axis)
        if index_position == "first":
            new_img[index, :] = np.zeros(cols)
        else:
            new_img[:, index] = np.zeros(rows)
        expanded_training_pairs.append((np.reshape(new_img, rows * cols), y))
if do_shuffle == "1":
    random.seed(seed)
    random.shuffle(expanded_training_pairs)

np.array([p[0] for p in expanded_training_pairs], dtype=np.float32).tofile(out_images)
np.array([p[1] for p in expanded_training_pairs], dtype=np.uint8).tofile(out_labels)
