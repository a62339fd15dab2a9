// Dataset: images and labels in one contiguous float32 buffer, plus where they came from.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nnet {

struct Dataset {
  int rows = 28;
  int cols = 28;
  std::vector<float> images;    // (n, rows*cols) row-major: image i starts at i*pixels()
  std::vector<uint8_t> labels;  // (n) values 0..9
  std::string source;           // e.g. "data/mnist.pkl.gz (training)"
  std::string scaling;          // e.g. "stored floats (pixel/256)" or "byte/255"
  // When set, the images live here instead of `images` ((n, rows*cols) row-major, owned by the
  // caller, e.g. a numpy array the Python module trains on without copying).
  const float* external = nullptr;

  size_t size() const { return labels.size(); }
  int pixels() const { return rows * cols; }
  const float* image(size_t i) const {
    return (external ? external : images.data()) + i * static_cast<size_t>(pixels());
  }
  bool empty() const { return labels.empty(); }
};

// The three splits the book's loader returns; any may be empty.
struct DataSplits {
  Dataset training;
  Dataset validation;
  Dataset test;
};

// First n examples of `d` (all if n >= size), as the book's `training_data[:n]`; the copy owns its
// images even when d's are external.
Dataset head(const Dataset& d, size_t n);
// The same, reusing d's buffers (no copy: peak memory stays that of d).
Dataset head(Dataset&& d, size_t n);

}  // namespace nnet
