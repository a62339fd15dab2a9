// The lines training prints: the notebook's, or network2.SGD's when more monitors are on (the
// CLI's and Python's, the same bytes).
#pragma once

#include <string>

#include "nnet/train.h"

namespace nnet {

// True when the run prints network2.SGD's block instead of the notebook's single line.
bool network2_style(const TrainOptions& o);

// Standard output for one epoch, exactly as the Python code prints it (with trailing newlines).
std::string format_epoch(const EpochReport& r, const TrainOptions& o, bool has_evaluation);

}  // namespace nnet
