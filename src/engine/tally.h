// The health probe's raw evidence, as a backend gathers it right after a step (internal: the CPU
// and CUDA backends fill it, src/train/probe.h reads it).
#pragma once

#include <cstdint>
#include <vector>

#include "nnet/network.h"

namespace nnet {

// The activation of weight layer l (softmax for a softmax layer).
Activation layer_activation(const Network& net, int l);

// Activations of kind `act` outside [lo, hi] count as saturated (their derivative nearly zero):
// sigmoid outside [0.01, 0.99], tanh outside [-0.98, 0.98].
struct SaturationBand {
  float lo, hi;
};
SaturationBand saturation_band(Activation act);

// The raw evidence of the mini-batches the probe read in one epoch, as the backend that ran the
// steps gathered it (batch by batch, sample by sample, so every backend sums in the same order).
struct ProbeTally {
  long seen = 0;          // images read
  long correct = 0;       // ... classified correctly
  long pinned = 0;        // sigmoid output activations pinned on the wrong side (< 0.01 or > 0.99)
  long outputs_seen = 0;  // sigmoid output activations read
  double cost_sum = 0, cost_sq_sum = 0;  // sample_cost() of each image, and its square
  int batches = 0;                       // mini-batches read
  double seconds = 0;                    // time spent gathering
  std::vector<long> predicted;           // (outputs) predictions per class
  // Per weight layer but the output layer, per unit (empty where the activation does not apply):
  std::vector<std::vector<uint8_t>> active;  // ReLU: ever > 0
  std::vector<std::vector<int>> sat_count;   // sigmoid/tanh: samples outside saturation_band()
  std::vector<double> bias_norm_sum;         // (weight layers) sum of |dC/db| / m per batch
  // Empties the tally for `net` (zeroed counts of the right sizes).
  void reset(const Network& net);
};

// Adds one mini-batch to `tally`, as a backend reads it right after that batch's SGD step (before
// its update, with any dropout masks): the output activations `out` (outputs, m) column-major;
// per weight layer l, its activations `layer_out[l]` (units, m) (a conv layer's before pooling) and
// its dC/dz `delta[l]` (units, m); `labels` (m).
void tally_batch(const Network& net, const float* out, const std::vector<const float*>& layer_out,
                 const std::vector<const float*>& delta, const uint8_t* labels, int m,
                 ProbeTally* tally);

}  // namespace nnet
