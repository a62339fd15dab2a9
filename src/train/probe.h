// HealthProbe: turns each epoch's tally (engine/tally.h) and report into evidence and hints
// (internal to training: train.cc runs it; health.h has what callers see).
#pragma once

#include <set>
#include <vector>

#include "engine/tally.h"
#include "nnet/health.h"
#include "nnet/train.h"

namespace nnet {

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

  // What observe() hands each rule: the epoch's evidence and the words its hints share.
  struct Seen {
    const Network& net;
    const EpochHealth& h;
    const EpochReport* rep;
    int epoch;
    double eval_acc;  // NaN without evaluation
    bool quadratic;
    const std::string& at;     // "hint: epoch N: "
    const std::string& setup;  // "with <cost> cost[ and N(0,1) weights]"
    const std::string& cure;   // the usual cure for saturation
  };
  // One rule each (the book's pitfalls), appending the hints that fire for the first time.
  void saturated_outputs(const Seen& s, std::vector<Hint>* out);
  void hidden_units(const Seen& s, std::vector<Hint>* out);
  void gradients(const Seen& s, std::vector<Hint>* out);
  void learning_rate(const Seen& s, std::vector<Hint>* out);
  void overfitting(const Seen& s, std::vector<Hint>* out);

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
