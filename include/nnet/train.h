// Training: mini-batch SGD with the book's options, evaluation, and per-epoch reports.
// The library never prints: progress and results reach the caller through TrainCallbacks.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nnet/dataset.h"
#include "nnet/distributed.h"
#include "nnet/health.h"
#include "nnet/network.h"
#include "nnet/status.h"

namespace nnet {

// How --lambda decays the weights each mini-batch (biases never decay).
enum class L2Style {
  kNetwork2,  // network2.py: w <- (1 - eta*lambda/n) w, n = training images
  kNetwork3,  // network3.py's cost term 0.5*lambda*sum w^2 / num_batches:
              // w <- (1 - eta*lambda/num_batches) w
};

enum class Schedule {
  kConstant,        // eta throughout
  kStep,            // eta *= step_gamma every step_epochs epochs
  kHalveOnPlateau,  // the book: halve eta after `plateau_epochs` without a better validation
                    // accuracy; stop once eta has dropped to eta0/128
};

// Where training and evaluation run. The CPU is the reference; CUDA (an NVIDIA GPU, sm_90 or
// newer, in a build with -DNNET_CUDA=ON) computes the same functions in another summation order.
enum class Device { kCpu, kCuda };
const char* name(Device d);                             // "cpu", "cuda"
bool parse_device(const std::string& s, Device* out);  // inverse of name()

// Ok when `device` can run here; else Code::kUnavailable and one line saying why (a build without
// CUDA, no driver, no GPU).
Status device_status(Device device);

struct TrainOptions {
  int epochs = 30;
  int batch = 10;
  double eta = 0.1;
  uint32_t seed = 1;      // numpy seed for init, Python seed for shuffles, dropout seed
  double lambda = 0.0;    // L2: w <- (1 - eta*lambda/n) w - eta/m sum nabla_w
  double l1 = 0.0;        // L1: w <- w - eta*l1/n sgn(w) - eta/m sum nabla_w
  double dropout = 0.0;   // probability of dropping a hidden neuron (inverted dropout), on the
                          // layers with LayerSpec::in_place_dropout (a --sizes net's hidden ones)
  double momentum = 0.0;  // v <- mu v - eta/m sum nabla; w <- w + v (with L2/L1 decay)
  Schedule schedule = Schedule::kConstant;
  int step_epochs = 10;
  double step_gamma = 0.5;
  int plateau_epochs = 10;
  int early_stop = 0;  // stop after N epochs without better evaluation accuracy; 0 = off
  bool monitor_training_cost = false;
  bool monitor_training_accuracy = false;
  bool monitor_evaluation_cost = false;
  bool monitor_evaluation_accuracy = true;  // the notebook's "Epoch j: c / n" line
  bool record_gradients = false;            // per-layer gradient norms each epoch
  int threads = 0;                          // evaluation threads; 0 = all cores
  bool shuffle = true;                      // shuffle every epoch (network3 never shuffles)
  L2Style l2_style = L2Style::kNetwork2;
  // Threads for the conv kernels of a training step (0 = all cores, one for a layer too small to
  // share); results do not depend on it.
  int conv_threads = 0;
  // > 0: each mini-batch's gradient is the chunk-ordered sum (distributed.h) of the gradients of
  // fixed chunks of grad_chunk samples, so results do not depend on how many processes share the
  // chunks (TrainCallbacks::collective); 0: the whole mini-batch at once (the fused fast step).
  int grad_chunk = 0;
  // Watch the run's health (health.h): fill EpochReport::health and report hints through
  // TrainCallbacks::on_hint. Never changes what training computes.
  bool watch_health = false;
  // Where the run computes. The default CPU run is the reference every other is checked against.
  Device device = Device::kCpu;
};

// Everything measured in one epoch; fields not monitored stay at their defaults (-1 / NaN).
struct EpochReport {
  int epoch = 0;
  double eta = 0.0;           // learning rate used during this epoch
  double training_cost = -1;  // network2's total_cost (incl. L2 term) when monitored
  long training_correct = -1;
  long training_total = 0;
  double evaluation_cost = -1;
  long evaluation_correct = -1;
  long evaluation_total = 0;
  double train_seconds = 0.0;      // the SGD pass alone
  double train_cpu_seconds = 0.0;  // the SGD pass's CPU time, all threads (0 where not measured)
  double eval_seconds = 0.0;       // all monitoring passes together
  // With record_gradients: per layer, the Euclidean norm of dC/db and dC/dW averaged over the
  // epoch's mini-batches (the book's chapter 5 "speed of learning").
  std::vector<double> bias_grad_norm;
  std::vector<double> weight_grad_norm;
  EpochHealth health;  // with watch_health: the probe's evidence after this epoch
};

// The resumable state of a run: everything a checkpoint has to hold besides the network.
struct TrainState {
  int epoch = 0;                      // epochs completed
  size_t batch_pos = 0;               // next mini-batch index within `epoch` when mid-epoch
  std::vector<uint32_t> order;        // current permutation of training indices
  std::vector<uint32_t> shuffle_rng;  // PyRandom state (MT words + position)
  std::vector<uint32_t> dropout_rng;  // Mt19937 state for dropout masks
  std::vector<float> velocity;        // momentum buffer (same layout as params)
  double eta = 0.0;                   // current learning rate (schedules change it)
  long best_accuracy = -1;            // best evaluation accuracy so far
  int best_epoch = -1;
  int epochs_since_best = 0;
  std::vector<float> best_params;    // for early stopping: weights at best_epoch
  std::vector<EpochReport> history;  // one per completed epoch
  // With record_gradients, saved mid-epoch: per-layer gradient-norm sums so far (bias norms of
  // every layer, then weight norms), so a resumed epoch reports the same averages.
  std::vector<double> grad_norm_sums;
  bool finished = false;
  std::string stop_reason;  // "", "early stop", "eta reached eta0/128", "interrupted"
};

struct TrainCallbacks {
  std::function<void(const EpochReport&)> on_epoch;         // after each epoch's monitors
  std::function<void(size_t done, size_t total)> on_batch;  // after each mini-batch
  std::function<bool()> should_stop;                        // polled after each mini-batch
  std::function<Status(const TrainState&)> on_checkpoint;   // after each epoch (and on stop)
  size_t checkpoint_every = 0;  // also call on_checkpoint every N mini-batches; 0 = epochs only
  // Data-parallel runs (needs grad_chunk > 0): this process computes its share of each
  // mini-batch's chunks and of each evaluation, and `collective` combines them. Every process
  // runs train() with the same arguments and ends with the same weights and state.
  Collective collective;
  // With watch_health: each pitfall's hint, the first time it is seen (data hints before the
  // first epoch, the others right after on_epoch of the epoch that showed it).
  std::function<void(const Hint&)> on_hint;
};

// Results of running a network over a dataset.
struct EvalResult {
  long correct = 0;
  long total = 0;
  double cost = 0.0;                 // mean cost + 0.5*lambda/n*sum|w|^2 (network2 total_cost)
  std::vector<uint8_t> predictions;  // argmax per example, when requested
};

// Evaluates `net` on `data` in large batches over `threads` threads (0 = all cores). Results are
// identical for any thread count.
EvalResult evaluate(const Network& net, const Dataset& data, bool want_cost, double lambda = 0.0,
                    bool want_predictions = false, int threads = 0);

// evaluate() on `device`: the same figures (on the GPU up to float summation order);
// Code::kUnavailable when the device cannot be used.
Status evaluate_on(Device device, const Network& net, const Dataset& data, bool want_cost,
                   double lambda, bool want_predictions, EvalResult* out);

// Output activations for n images (pixels, n) column-major; out is (outputs, n).
void predict(const Network& net, const float* images, size_t n, Eigen::MatrixXf* out);

// Checks option ranges (eta > 0 and finite, batch >= 1, ...): the ranges of run_options()
// (nnet/run.h); errors name the option ("eta: expected a finite number > 0, found 0.000000").
Status validate(const TrainOptions& opts);

// Runs SGD on `net`. `evaluation` may be null. `state` is the state to start from (fresh for a
// new run, loaded for --resume) and holds the final state afterwards.
Status train(Network& net, const Dataset& training, const Dataset* evaluation,
             const TrainOptions& opts, const TrainCallbacks& callbacks, TrainState* state);

// A fresh state for a new run: shuffle RNG seeded with opts.seed, eta = opts.eta, order = 0..n-1.
TrainState initial_state(const Network& net, size_t training_size, const TrainOptions& opts);

}  // namespace nnet
