// Small learnable MNIST-shaped data for CLI tests that must not need the shared MNIST files:
// class k lights a 4x4 block at a position of its own (plus noise), written as IDX files.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "test_util.h"

namespace nnet::testing {

inline std::string idx_images(int n, const std::vector<uint8_t>& labels, uint32_t seed) {
  std::string s = {0, 0, 8, 3};
  auto be32 = [&s](uint32_t v) {
    for (int i = 3; i >= 0; --i) s += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  be32(n);
  be32(28);
  be32(28);
  std::mt19937 rng(seed);
  for (int i = 0; i < n; ++i) {
    std::string img(784, 0);
    for (char& c : img) c = static_cast<char>(rng() % 40);  // noise
    const int k = labels[i], r0 = 2 + (k / 5) * 12, c0 = 2 + (k % 5) * 5;
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 4; ++c) img[(r0 + r) * 28 + c0 + c] = static_cast<char>(255);
    s += img;
  }
  return s;
}

inline std::string idx_labels(const std::vector<uint8_t>& labels) {
  std::string s = {0, 0, 8, 1};
  const uint32_t n = labels.size();
  for (int i = 3; i >= 0; --i) s += static_cast<char>((n >> (8 * i)) & 0xff);
  s.append(labels.begin(), labels.end());
  return s;
}

// Writes train-/t10k- IDX files (labels cycling 0..9) into `dir`; returns false on failure.
inline bool write_synthetic_idx(const std::string& dir, int n_train, int n_test) {
  std::vector<uint8_t> tr(n_train), te(n_test);
  for (int i = 0; i < n_train; ++i) tr[i] = static_cast<uint8_t>((i * 7) % 10);
  for (int i = 0; i < n_test; ++i) te[i] = static_cast<uint8_t>((i * 3) % 10);
  return write_file(dir + "/train-images-idx3-ubyte", idx_images(n_train, tr, 1)) &&
         write_file(dir + "/train-labels-idx1-ubyte", idx_labels(tr)) &&
         write_file(dir + "/t10k-images-idx3-ubyte", idx_images(n_test, te, 2)) &&
         write_file(dir + "/t10k-labels-idx1-ubyte", idx_labels(te));
}

}  // namespace nnet::testing
