// Classification metrics for `nnet eval`: a confusion matrix and its plain-text rendering.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nnet/dataset.h"

namespace nnet {

struct Confusion {
  int classes = 10;          // rows: true labels 0..classes-1
  int columns = 10;          // predicted 0..classes-1, plus one "other" column if needed
  std::vector<long> counts;  // (classes, columns) row-major: counts[t * columns + p]
  long at(int truth, int predicted) const {
    return counts[static_cast<size_t>(truth) * columns + predicted];
  }
  long correct() const;             // the diagonal's sum
  long total() const;               // every example counted
  long row_total(int truth) const;  // examples whose label is `truth`
};

// Counts (label, prediction) pairs; predictions >= 10 land in an extra "other" column.
// `predictions` has one entry per example of `data`.
Confusion confusion(const Dataset& data, const std::vector<uint8_t>& predictions);

// "class  correct  total  accuracy" lines, one per class (aligned, trailing newline).
std::string format_per_class(const Confusion& c);

// The matrix with a header row of predicted classes and one row per true class (aligned).
std::string format_confusion(const Confusion& c);

}  // namespace nnet
