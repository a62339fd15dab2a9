#include "nnet/dataset.h"

#include <algorithm>
#include <utility>

namespace nnet {

Dataset head(const Dataset& d, size_t n) {
  Dataset out;
  out.rows = d.rows;
  out.cols = d.cols;
  out.source = d.source;
  out.scaling = d.scaling;
  const size_t k = std::min(n, d.size());
  const size_t px = static_cast<size_t>(d.pixels());
  out.labels.assign(d.labels.begin(), d.labels.begin() + static_cast<std::ptrdiff_t>(k));
  if (k > 0) out.images.assign(d.image(0), d.image(0) + k * px);  // owned or external alike
  return out;
}

Dataset head(Dataset&& d, size_t n) {
  const size_t k = std::min(n, d.size());
  // Shrinking in place never reallocates, so the first n images are never held twice.
  d.labels.resize(k);
  d.images.resize(k * static_cast<size_t>(d.pixels()));
  return std::move(d);
}

}  // namespace nnet
