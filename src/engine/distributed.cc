#include "nnet/distributed.h"

#include <algorithm>
#include <cassert>

namespace nnet {

Range share(size_t n, int rank, int size) {
  assert(size >= 1 && rank >= 0 && rank < size);
  const size_t k = static_cast<size_t>(size), r = static_cast<size_t>(rank);
  const size_t base = n / k, extra = n % k;
  Range out;
  out.begin = r * base + std::min(r, extra);
  out.end = out.begin + base + (r < extra ? 1 : 0);
  return out;
}

size_t chunk_count(size_t m, size_t c) { return (m + c - 1) / c; }

Range chunk_samples(size_t m, size_t c, size_t i) { return {i * c, std::min(m, (i + 1) * c)}; }

void sum_chunks(const float* x, size_t chunks, size_t width, size_t stride, float* out) {
  if (chunks == 0) {
    std::fill(out, out + width, 0.0f);
    return;
  }
  std::copy(x, x + width, out);
  for (size_t k = 1; k < chunks; ++k) {
    const float* row = x + k * stride;
    for (size_t e = 0; e < width; ++e) out[e] += row[e];
  }
}

void pack_slice(const float* local, size_t count, size_t width, Range slice, float* out) {
  for (size_t k = 0; k < count; ++k)
    std::copy(local + k * width + slice.begin, local + k * width + slice.end,
              out + k * slice.size());
}

}  // namespace nnet
