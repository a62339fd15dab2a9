// Training health: cheap per-epoch evidence of the book's pitfalls (saturated outputs, dead or
// saturated hidden units, vanishing/exploding gradients, overfitting, a learning rate too high,
// bad data) and the one-line hints, with the book's cure, that the evidence supports.
//
// The probe never changes training: it only reads values the SGD step already computed (the
// activations and output errors of some mini-batches) and the epoch's report, and draws no
// random numbers, so a run is bit-identical with and without it. The library never prints: hints
// reach the caller through TrainCallbacks::on_hint (train.h).
#pragma once

#include <Eigen/Core>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "nnet/dataset.h"
#include "nnet/network.h"

namespace nnet {

struct EpochReport;
struct TrainOptions;

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

// Watches one run. The backend tallies a fixed subset of each epoch's mini-batches (about
// `per_epoch` images an epoch, evenly spaced: those wants() accepts) right after their SGD step;
// the probe turns each epoch's tally and report into evidence and hints. Watching costs a small
// fixed amount per epoch and draws no random numbers.
class HealthProbe {
 public:
  HealthProbe(const Network& net, size_t training_size, const Dataset* evaluation,
              const TrainOptions& opts, HealthThresholds t = {}, int per_epoch = 1000);

  // Whether mini-batch `b` of an epoch is one the probe reads.
  bool wants(size_t b) const { return b % stride_ == 0; }

  // Closes the epoch `rep` describes: fills rep->health from `tally` (this epoch's batches) and
  // returns the hints that fire for the first time (each kind at most once per probe).
  std::vector<Hint> observe(const Network& net, const ProbeTally& tally, EpochReport* rep);

  const HealthThresholds& thresholds() const { return t_; }

 private:
  bool fire(HintKind k, int epoch, std::string message, std::vector<Hint>* out);

  HealthThresholds t_;
  size_t stride_ = 1;        // read mini-batches b with b % stride_ == 0
  bool large_init_ = false;  // first-layer weights looked N(0, 1) when the probe was made
  double lambda_ = 0;
  std::vector<long> eval_class_count_;  // (10) evaluation labels per class
  // Past epochs:
  std::vector<EpochHealth> past_;
  // (epochs) the training cost the learning-rate rule follows: the report's when monitored (the
  // whole training set, with the L2 term), else the sample's, with its standard error (0: exact).
  std::vector<double> cost_, cost_se_;
  std::vector<double> eval_acc_;  // evaluation accuracy per observed epoch (NaN if none)
  std::set<HintKind> fired_;
};

}  // namespace nnet
