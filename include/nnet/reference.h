// Reference engine: a float64 port of the book's network.py / network2.py that follows the Python
// step for step (numpy/Python RNG draws, shuffles, per-mini-batch updates, network2's monitors), so
// a run seeded like the notebook or the book reproduces its printed numbers. Slow and plain on
// purpose; the fast float engine lives in train.h.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

#include "nnet/dataset.h"
#include "nnet/network.h"
#include "nnet/status.h"
#include "nnet/train.h"

namespace nnet {

struct ReferenceOptions {
  int epochs = 30;
  int batch = 10;  // mini_batch_size
  double eta = 3.0;
  double lambda = 0.0;           // network2's lmbda (L2); must be 0 without `network2`
  uint32_t numpy_seed = 0;       // np.random.seed(numpy_seed) before the network is built
  uint64_t python_seed = 0;      // random.seed(python_seed) before SGD
  bool python2_shuffle = false;  // Python 2.7's random.shuffle (the book) instead of Python 3's
  // network2.py semantics: __init__ draws default_weight_initializer first (then `init == kLarge`
  // calls large_weight_initializer, drawing again), L2 decay, network2's monitors and lines.
  // Without it: network.py (one draw: biases randn(y,1), then weights randn(y,x)).
  bool network2 = false;
  Init init = Init::kLarge;  // kLarge or kDefault only (the book has no other)
  bool monitor_training_cost = false;
  bool monitor_training_accuracy = false;
  bool monitor_evaluation_cost = false;
  bool monitor_evaluation_accuracy = true;  // network.py's "Epoch j: c / n" needs only this
};

// The book's network in float64: weights[l] is numpy's self.weights[l], biases[l] self.biases[l].
struct ReferenceNetwork {
  Architecture arch;                     // sigmoid layers; quadratic or cross-entropy cost
  std::vector<Eigen::MatrixXd> weights;  // per layer l: (sizes[l+1], sizes[l])
  std::vector<Eigen::VectorXd> biases;   // per layer l: (sizes[l+1]) == numpy's (y, 1)
};

// Checks what the reference engine can mirror: sigmoid layers only, quadratic or cross-entropy
// cost, init large/default, epochs/batch >= 1, finite eta > 0, finite lambda >= 0 (0 unless
// network2), seeds numpy can take.
Status validate_reference(const Architecture& arch, const ReferenceOptions& opts);

// Builds the network exactly as the Python constructor(s) draw it from np.random.seed(numpy_seed):
// biases for every layer first, then weights, each in row-major order (see ReferenceOptions).
Status reference_init(const Architecture& arch, const ReferenceOptions& opts,
                      ReferenceNetwork* net);

// Output activations of one input column: (sizes.back()) from x (sizes[0]).
Eigen::VectorXd reference_feedforward(const ReferenceNetwork& net, const Eigen::VectorXd& x);

struct ReferenceEval {
  long correct = 0;  // count of argmax(a) == label (first maximum, as np.argmax)
  long total = 0;
  double cost =
      0.0;  // network2.total_cost: sum_x cost.fn(a, y)/len(data) + 0.5*(lmbda/len)*sum|w|^2
};

// Evaluates `net` on `data` (in the order `order` gives, or 0..n-1 when empty) as network2's
// accuracy() and total_cost() do; the cost only when `want_cost`.
ReferenceEval reference_evaluate(const ReferenceNetwork& net, const Dataset& data,
                                 const std::vector<uint32_t>& order, bool want_cost, double lambda);

// Runs the book's SGD on an already built `net`: random.seed(python_seed), then each epoch
// shuffle the (cumulatively shuffled) training list, update per mini-batch, then the monitors in
// network2's order. Reports reach callbacks.on_epoch (costs in double); callbacks.on_batch and
// should_stop work as in train() (a stop returns Code::kInterrupted with `net` as it was left);
// on_checkpoint is not called (the reference engine is not resumable). `evaluation` may be null
// unless an evaluation monitor is on. `history` (optional) gets one report per epoch.
Status reference_sgd(ReferenceNetwork& net, const Dataset& training, const Dataset* evaluation,
                     const ReferenceOptions& opts, const TrainCallbacks& callbacks,
                     std::vector<EpochReport>* history);

// reference_init followed by reference_sgd: the whole notebook/book run.
Status reference_train(const Architecture& arch, const Dataset& training, const Dataset* evaluation,
                       const ReferenceOptions& opts, const TrainCallbacks& callbacks,
                       ReferenceNetwork* net_out, std::vector<EpochReport>* history);

// The same parameters rounded to float, in the fast engine's layout (for saving and evaluate()).
Network to_network(const ReferenceNetwork& net);

// The lines Python prints after epoch `r.epoch`, without trailing newlines. network.py:
// "Epoch 0: 9034 / 10000" (or "Epoch 0 complete" without evaluation accuracy). network2.py:
// "Epoch 0 training complete", then per monitor "Cost on training data: <repr>",
// "Accuracy on training data: 812 / 1000", "Cost on evaluation data: <repr>",
// "Accuracy on evaluation data: 7000 / 10000", then "" (network2's bare print).
std::vector<std::string> reference_epoch_lines(const EpochReport& r, const ReferenceOptions& opts);

}  // namespace nnet
