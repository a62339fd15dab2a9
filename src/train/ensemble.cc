#include "nnet/ensemble.h"

#include <array>
#include <cstddef>

namespace nnet {

std::vector<uint8_t> plurality_vote(const std::vector<std::vector<uint8_t>>& predictions) {
  if (predictions.empty()) return {};
  const size_t n = predictions[0].size();
  for (const auto& p : predictions)
    if (p.size() != n) return {};
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    std::array<int, 256> votes{};  // predictions are uint8 classes
    for (const auto& p : predictions) ++votes[p[i]];
    int best = 0;
    for (int c = 1; c < 256; ++c)
      if (votes[c] > votes[best]) best = c;  // strict: the lowest class wins a tie
    out[i] = static_cast<uint8_t>(best);
  }
  return out;
}

}  // namespace nnet
