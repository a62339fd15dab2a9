// Ensembles: several models' predictions combined by plurality vote, as the book's conv.py does.
#pragma once

#include <cstdint>
#include <vector>

namespace nnet {

// For each example, the class predicted by the most models; `predictions` holds one vector per
// model, all of the same length (an empty result when there are no models or the lengths
// differ). Ties go to the lowest class among the most voted, as np.argmax(np.bincount(votes))
// does. (conv.py's Counter(p).most_common(1) picks, among tied classes, the first in its dict's
// order: the first model's vote under Python 3; for classes 0..7 the lowest under the book's
// Python 2.7.)
std::vector<uint8_t> plurality_vote(const std::vector<std::vector<uint8_t>>& predictions);

}  // namespace nnet
