// The backend seam: what the training loop (train.cc) asks of whatever runs the math. A backend
// owns the working copy of the parameters, the momentum buffer, its workspace and the data it was
// handed; the loop owns the schedule, the shuffles, the monitors, the callbacks and the
// checkpoints. The CPU backend (cpu_backend.cc) runs the layer kinds with Eigen, or with the
// AVX-512 kernels where the build has them; the CUDA backend (src/cuda/) runs them on a GPU.
// docs/ARCHITECTURE.md shows what a new backend writes.
//
// Host copies are explicit: set_params/get_params move the parameters (params() layout,
// network.h) between the host Network and the backend, so saving, checkpoints, Python views and
// early stopping see exactly what the backend trained.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "nnet/dataset.h"
#include "engine/tally.h"
#include "nnet/health.h"
#include "nnet/network.h"
#include "nn/workspace.h"
#include "nnet/status.h"
#include "nnet/train.h"

namespace nnet::engine {

// One SGD step: the m samples at positions [begin, begin + m) of the epoch's order.
struct StepArgs {
  size_t batch = 0;  // index of the mini-batch within the epoch
  size_t begin = 0;  // first position in the order
  int m = 0;         // samples
  SgdRule rule;      // the update, with this batch's step eta/m
  double eta = 0;    // the epoch's learning rate (rule.step = eta / m)
  bool probe = false;  // tally this batch's evidence for the health probe
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Parameters (and the momentum buffer), params() layout, host <-> backend.
  virtual void set_params(const std::vector<float>& params) = 0;
  virtual void get_params(std::vector<float>* params) = 0;
  virtual void set_velocity(const std::vector<float>& velocity) = 0;
  virtual void get_velocity(std::vector<float>* velocity) = 0;

  // The position of the dropout mask stream: restored from, and saved to, TrainState.
  virtual void set_dropout_state(const std::vector<uint32_t>& state, int epoch, size_t batch) = 0;
  virtual std::vector<uint32_t> dropout_state() = 0;

  // This epoch's order of training indices (a permutation of the training set given at creation).
  virtual void set_order(const std::vector<uint32_t>& order) = 0;

  // Forward, output error, backward and update for one mini-batch. Sets *finite to false,
  // parameters untouched, when the backend can already tell that the output error was not finite;
  // a backend that runs asynchronously leaves it true and reports it from finished_cleanly(). An
  // error (a process of a shared run failed) ends training.
  virtual Status step(const StepArgs& s, bool* finite) = 0;

  // After a run of steps: true when every step saw a finite output error; else the first bad
  // step's batch index goes to *bad_batch and every later step left the parameters untouched.
  virtual bool finished_cleanly(size_t* bad_batch) = 0;

  // With TrainOptions::record_gradients: adds, per weight layer, |dC/db| / m and |dC/dW| / m
  // (double) of each step since the last call to *bias and *weight, one step at a time in step
  // order (so a sum resumed from a checkpoint rounds as an uninterrupted one).
  virtual void add_gradient_norms(std::vector<double>* bias, std::vector<double>* weight) = 0;

  // With probing steps: the evidence of this epoch's probed batches so far, added in batch order,
  // then reset.
  virtual void take_probe_tally(ProbeTally* tally) = 0;

  // Evaluates the current parameters on `data` (results as evaluate() in train.h).
  virtual Status evaluate(const Dataset& data, bool want_cost, double lambda, EvalResult* out) = 0;

  // Whether every parameter is finite.
  virtual bool params_finite() = 0;
};

// The CPU backend over `net`'s own parameter buffer (set/get_params copy only when handed another
// buffer). `collective` shares steps and evaluations among processes (needs grad_chunk > 0).
std::unique_ptr<Backend> make_cpu_backend(Network& net, const Dataset& training,
                                          const TrainOptions& opts, const Collective& collective);

// The CUDA backend: uploads the parameters and `training` once. Fails with Code::kUnavailable
// and one line when the build has no CUDA, no driver or no device can be used. `net` is read on
// the host for the L2 term of evaluated costs (the loop keeps it in sync).
Status make_cuda_backend(const Network& net, const Dataset& training, const TrainOptions& opts,
                         std::unique_ptr<Backend>* out);

// evaluate() on the GPU (Code::kUnavailable without one).
Status cuda_evaluate(const Network& net, const Dataset& data, bool want_cost, double lambda,
                     bool want_predictions, EvalResult* out);

// Whether this build has the CUDA backend; device_status() for why not otherwise.
Status cuda_status();

// Folds per-sample scores (the first maximum and the cost of each sample of `data`) into an
// EvalResult exactly as the CPU sums them: in chunks of 500, in order.
void fold_scores(const Network& net, const Dataset& data, const std::vector<uint8_t>& argmax,
                 const std::vector<double>& cost, bool want_cost, double lambda,
                 bool want_predictions, EvalResult* out);

}  // namespace nnet::engine
