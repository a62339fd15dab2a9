// What a NetworkT derives from its architecture (internal: NetworkT's constructor, and the model
// loaders, which check a file's shapes before allocating anything).
#pragma once

#include <vector>

#include "nnet/network.h"

namespace nnet {

// What NetworkT derives from an architecture: per weight layer its W (rows, cols); per stack layer
// its output shape and the map between stack layers and weight layers.
struct LayerTable {
  std::vector<int> rows, cols;    // (weight layers) W_l is (rows[l], cols[l])
  std::vector<Shape> shapes;      // (stack layers) output shape of each stack layer
  std::vector<int> weight_index;  // (stack layers) weight layer of stack layer i, or -1
  std::vector<int> stack_index;   // (weight layers) stack layer of weight layer l
};

// Builds the table for `arch` (assumed valid). An architecture given by sizes and activations
// alone becomes its stack first: fc:N per layer (softmax:N for a softmax output) on an input of
// sizes[0] values (1 x r x r when that is a square r*r, else sizes[0] x 1 x 1), with dense set.
// Then arch->sizes and arch->activations are filled from the layers as their summaries.
LayerTable make_layer_table(Architecture* arch);

}  // namespace nnet
