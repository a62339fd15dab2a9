#include "nnet/expand.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <vector>

#include "nnet/pyrandom.h"

namespace nnet {

namespace {

// Writes shift `kind` of the (rows, cols) row-major image `src` into `dst`: 0 the image, 1 down,
// 2 up, 3 right, 4 left (expand_mnist.py's order: np.roll by d on axis, then the wrapped row or
// column zeroed).
void shifted(const float* src, int rows, int cols, int kind, float* dst) {
  const size_t n = static_cast<size_t>(rows) * cols;
  switch (kind) {
    case 0:
      std::memcpy(dst, src, n * sizeof(float));
      break;
    case 1:  // np.roll(image, 1, 0); row 0 = 0
      std::fill(dst, dst + cols, 0.0f);
      std::memcpy(dst + cols, src, (n - cols) * sizeof(float));
      break;
    case 2:  // np.roll(image, -1, 0); row rows-1 = 0
      std::memcpy(dst, src + cols, (n - cols) * sizeof(float));
      std::fill(dst + n - cols, dst + n, 0.0f);
      break;
    case 3:  // np.roll(image, 1, 1); column 0 = 0
      for (int r = 0; r < rows; ++r) {
        const float* s = src + static_cast<size_t>(r) * cols;
        float* o = dst + static_cast<size_t>(r) * cols;
        o[0] = 0.0f;
        std::memcpy(o + 1, s, (cols - 1) * sizeof(float));
      }
      break;
    default:  // 4: np.roll(image, -1, 1); column cols-1 = 0
      for (int r = 0; r < rows; ++r) {
        const float* s = src + static_cast<size_t>(r) * cols;
        float* o = dst + static_cast<size_t>(r) * cols;
        std::memcpy(o, s + 1, (cols - 1) * sizeof(float));
        o[cols - 1] = 0.0f;
      }
      break;
  }
}

}  // namespace

Status expand_training(Dataset* d, uint64_t shuffle_seed, bool shuffle) {
  if (d->rows < 2 || d->cols < 2)
    return UsageError("expand: expected images of at least 2x2 pixels, found " +
                      std::to_string(d->rows) + "x" + std::to_string(d->cols));
  const size_t n = d->size();
  if (n > (size_t{1} << 32) / 5)
    return UsageError("expand: expected at most " + std::to_string((size_t{1} << 32) / 5) +
                      " training images, found " + std::to_string(n));
  const size_t px = static_cast<size_t>(d->pixels());
  // order[i] = the pair at position i: image order[i] / 5, shift order[i] % 5.
  std::vector<uint32_t> order(5 * n);
  std::iota(order.begin(), order.end(), 0u);
  if (shuffle) PyRandom(shuffle_seed).shuffle(order);
  std::vector<float> images(5 * n * px);  // (5n, px) row-major
  std::vector<uint8_t> labels(5 * n);
  for (size_t i = 0; i < 5 * n; ++i) {
    const size_t j = order[i] / 5;
    shifted(d->image(j), d->rows, d->cols, static_cast<int>(order[i] % 5), images.data() + i * px);
    labels[i] = d->labels[j];
  }
  d->images = std::move(images);  // frees the originals
  d->labels = std::move(labels);
  d->source += " expanded 5x";
  return Status::Ok();
}

}  // namespace nnet
