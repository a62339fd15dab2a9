// Training health: cheap per-epoch evidence of the book's pitfalls (saturated outputs, dead or
// saturated hidden units, vanishing/exploding gradients, overfitting, a learning rate too high,
// bad data) and the one-line hints, with the book's cure, that the evidence supports.
//
// The probe (src/train/probe.h) never changes training: it only reads values the SGD step already
// computed (the activations and output errors of some mini-batches, as the backend tallies them)
// and the epoch's report, and draws no random numbers, so a run is bit-identical with and without
// it. The library never prints: hints reach the caller through TrainCallbacks::on_hint (train.h).
#pragma once

#include <limits>
#include <string>
#include <vector>

#include "nnet/dataset.h"
#include "nnet/network.h"

namespace nnet {

enum class HintKind {
  kSaturatedOutputs,   // ch3: stuck on one class / outputs pinned on the wrong side (quadratic)
  kDeadUnits,          // ReLU hidden units that never activate
  kSaturatedUnits,     // sigmoid/tanh hidden units pinned at their extremes
  kVanishingGradient,  // ch5: first layer's gradient orders of magnitude below the last's
  kExplodingGradient,  // ch5: first layer's gradient orders of magnitude above the last's
  kOverfitting,        // ch3: training accuracy far above evaluation accuracy, which stalls
  kLearningRate,       // cost rising or oscillating across epochs
  kDataRange,          // pixels outside [0, 1]
  kDataMissingClass,   // a split lacks one of the classes
  kDataTooSmall,       // far fewer training images than parameters
};

// Stable lower-case names ("saturated-outputs", "dead-units", ...), as histories record them.
const char* name(HintKind k);

struct Hint {
  HintKind kind = HintKind::kSaturatedOutputs;
  int epoch = -1;       // epoch whose evidence fired it; -1 for data hints (before training)
  std::string message;  // one line, no trailing newline: the evidence and the book's cure
};

// The thresholds the hints fire on (also drawn by plot_health). Shares are in [0, 1].
struct HealthThresholds {
  double output_saturation = 0.5;     // share of outputs pinned (<0.01 or >0.99) on the wrong side
  int output_epochs = 3;              // ... for this many epochs in a row (quadratic cost only)
  double one_class = 0.9;             // share of the sample predicted as one class ...
  int one_class_epochs = 2;           // ... for this many epochs in a row
  double dead_units = 0.5;            // share of a ReLU layer's units never active on the sample
  double saturated_units = 0.5;       // share of a sigmoid/tanh layer's units saturated on >= 95%
  int unit_epochs = 2;                //   of the sample, for this many epochs in a row
  double gradient_ratio = 100;        // first/last layer |dC/db| ratio beyond 1/x or x ...
  int gradient_epochs = 3;            // ... for this many epochs in a row
  double overfit_gap = 0.10;          // training minus evaluation accuracy ...
  int overfit_stall = 10;             // ... with no better evaluation accuracy for this many epochs
  double overfit_stall_share = 0.25;  // or this share of the epochs watched, if longer
  double accuracy_drop = 0.02;        // an epoch whose evaluation accuracy fell this much, or ...
  double cost_rise = 0.10;            // ... whose training cost rose by this share or more (and,
  double cost_rise_z = 3;             //   when sampled, by this many standard errors), ...
  int bad_epochs = 2;                 // ... this many times within the last 5 epochs
  double data_ratio = 50;             // parameters per training image above this
};

// What the probe measured after one epoch (all NaN / empty when it did not run).
struct EpochHealth {
  static constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
  // The sample: the training images of the mini-batches the probe read this epoch, as the SGD
  // step saw them (before its update, with any dropout masks).
  int sample = 0;                    // images read
  double output_saturation = kNone;  // share of output activations pinned on the wrong side
  double sample_cost = kNone;        // mean cost on the sample (no L2 term)
  double sample_cost_se = kNone;     // ... and its standard error (the sample changes each epoch)
  double sample_accuracy = kNone;    // share of the sample classified correctly
  int top_class = -1;                // the class predicted most often on the sample
  double top_class_share = kNone;    // ... and the share of the sample predicted as it
  // Per weight layer but the output layer (NaN where the activation does not apply):
  std::vector<double> dead_share;       // ReLU units zero on every sampled image
  std::vector<double> saturated_share;  // sigmoid/tanh units saturated on >= 95% of the sample
  // Per weight layer: |dC/db| of the mini-batch's mean cost, averaged over the batches read
  // (the book's chapter 5 "speed of learning").
  std::vector<double> bias_grad_norm;
  double seconds = 0.0;  // time the probe took this epoch
  bool measured() const { return sample > 0; }
};

// Data hints, checked once before training: pixels outside [0, 1], a split (training or
// evaluation) lacking a class, more than thresholds.data_ratio parameters per training image.
std::vector<Hint> check_data(const Network& net, const Dataset& training, const Dataset* evaluation,
                             const HealthThresholds& t = {});

}  // namespace nnet
