// The book's network.py / network2.py in float64, operation for operation where it matters.
//
// Elementwise formulas keep numpy's operation order and rounding (no FMA contraction, scalar
// std::exp/std::log as libm); only the dot products (Eigen vs numpy's BLAS) sum in another order,
// which moves results by a few ulps, far below the 1e-9 the tests ask for. Mini-batches are
// propagated as matrices (one column per example): column j of W*X is np.dot(w, x_j), and
// D*A^T is the sum of the per-example outer products np.dot(delta, a.T).
#pragma GCC optimize("fp-contract=off")

#include "nnet/reference.h"

#include <chrono>
#include <cmath>
#include <limits>

#include "nnet/pyrandom.h"
#include "nn/workspace.h"

namespace nnet {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// sigmoid(z) = 1.0/(1.0+np.exp(-z)), elementwise in place.
void sigmoid_inplace(Eigen::MatrixXd& z) {
  double* p = z.data();
  for (Eigen::Index i = 0; i < z.size(); ++i) p[i] = 1.0 / (1.0 + std::exp(-p[i]));
}

// np.nan_to_num for one double.
double nan_to_num(double v) {
  if (std::isnan(v)) return 0.0;
  if (std::isinf(v))
    return v > 0 ? std::numeric_limits<double>::max() : -std::numeric_limits<double>::max();
  return v;
}

// numpy's pairwise_sum for a contiguous float64 array of n <= 128 elements (np.sum's order).
double numpy_sum(const double* a, int n) {
  if (n < 8) {
    double res = 0.0;
    for (int i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n > 128) {  // numpy recurses on halves; outputs this wide never occur here, but be exact
    int n2 = (n / 2) - (n / 2) % 8;
    return numpy_sum(a, n2) + numpy_sum(a + n2, n - n2);
  }
  double r[8];
  for (int j = 0; j < 8; ++j) r[j] = a[j];
  int i = 8;
  for (; i < n - (n % 8); i += 8)
    for (int j = 0; j < 8; ++j) r[j] += a[i + j];
  double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
  for (; i < n; ++i) res += a[i];
  return res;
}

// cost.fn(a, y) for one output column a (n) against the one-hot vector of `label`.
double cost_fn(Cost cost, const double* a, int n, int label, std::vector<double>& scratch) {
  if (cost == Cost::kQuadratic) {
    // 0.5*np.linalg.norm(a-y)**2
    double ss = 0.0;
    for (int i = 0; i < n; ++i) {
      double d = a[i] - (i == label ? 1.0 : 0.0);
      ss += d * d;
    }
    double nrm = std::sqrt(ss);
    return 0.5 * (nrm * nrm);
  }
  // np.sum(np.nan_to_num(-y*np.log(a)-(1-y)*np.log(1-a)))
  scratch.resize(static_cast<size_t>(n));
  double* v = scratch.data();  // (n) the elementwise terms, summed as np.sum does
  for (int i = 0; i < n; ++i) {
    double y = i == label ? 1.0 : 0.0;
    v[i] = nan_to_num((-y) * std::log(a[i]) - (1.0 - y) * std::log(1.0 - a[i]));
  }
  return numpy_sum(v, n);
}

// np.argmax: the first maximum; a NaN counts as the maximum (numpy returns the first NaN).
int argmax(const double* a, int n) {
  int best = 0;
  for (int i = 0; i < n; ++i) {
    if (std::isnan(a[i])) return i;
    if (a[i] > a[best]) best = i;
  }
  return best;
}

// Copies the images at `idx` into the columns of x (pixels, m): float32 -> float64 is exact, as
// numpy's upcast in np.dot(w, x) is.
void gather(const Dataset& d, const uint32_t* idx, int m, Eigen::MatrixXd& x) {
  const int p = d.pixels();
  x.resize(p, m);
  for (int j = 0; j < m; ++j) {
    const float* src = d.image(idx[j]);
    double* dst = x.col(j).data();
    for (int i = 0; i < p; ++i) dst[i] = static_cast<double>(src[i]);
  }
}

// a = sigmoid(w a + b) layer by layer; zs/as receive every layer's z and activation (m columns).
void forward(const ReferenceNetwork& net, const Eigen::MatrixXd& x,
             std::vector<Eigen::MatrixXd>& zs, std::vector<Eigen::MatrixXd>& as) {
  const size_t L = net.weights.size();
  zs.resize(L);
  as.resize(L);
  for (size_t l = 0; l < L; ++l) {
    const Eigen::MatrixXd& in = l == 0 ? x : as[l - 1];
    zs[l].noalias() = net.weights[l] * in;  // (sizes[l+1], m)
    zs[l].colwise() += net.biases[l];
    as[l] = zs[l];
    sigmoid_inplace(as[l]);  // (sizes[l+1], m)
  }
}

bool supported_init(Init i) { return i == Init::kLarge || i == Init::kDefault; }

}  // namespace

Status validate_reference(const Architecture& arch, const ReferenceOptions& opts) {
  if (arch.sizes.size() < 2)
    return UsageError("reference engine: need at least 2 layers, found " +
                      std::to_string(arch.sizes.size()));
  for (int s : arch.sizes)
    if (s <= 0)
      return UsageError("reference engine: layer sizes must be > 0, found " + std::to_string(s));
  if (arch.activations.size() != arch.sizes.size() - 1)
    return UsageError("reference engine: expected " + std::to_string(arch.sizes.size() - 1) +
                      " activations, found " + std::to_string(arch.activations.size()));
  for (Activation a : arch.activations)
    if (a != Activation::kSigmoid)
      return UsageError(
          std::string("reference engine: the book's networks are sigmoid only, found ") + name(a));
  if (arch.cost != Cost::kQuadratic && arch.cost != Cost::kCrossEntropy)
    return UsageError(
        std::string("reference engine: cost must be quadratic or cross-entropy, found ") +
        name(arch.cost));
  if (!supported_init(opts.init))
    return UsageError(std::string("reference engine: init must be large or default, found ") +
                      name(opts.init));
  if (opts.epochs < 1)
    return UsageError("epochs: expected >= 1, found " + std::to_string(opts.epochs));
  if (opts.batch < 1)
    return UsageError("batch: expected >= 1, found " + std::to_string(opts.batch));
  if (!std::isfinite(opts.eta) || opts.eta <= 0)
    return UsageError("eta: expected a finite value > 0, found " + py_repr(opts.eta));
  if (!std::isfinite(opts.lambda) || opts.lambda < 0)
    return UsageError("lambda: expected a finite value >= 0, found " + py_repr(opts.lambda));
  if (opts.lambda != 0 && !opts.network2)
    return UsageError("lambda: network.py has no L2 term; use network2 semantics");
  return Status::Ok();
}

Status reference_init(const Architecture& arch, const ReferenceOptions& opts,
                      ReferenceNetwork* net) {
  NNET_RETURN_IF_ERROR(validate_reference(arch, opts));
  NumpyRandom rng(opts.numpy_seed);
  const size_t L = arch.sizes.size() - 1;
  net->arch = arch;
  net->weights.assign(L, Eigen::MatrixXd());
  net->biases.assign(L, Eigen::VectorXd());
  // [np.random.randn(y, 1) for y in sizes[1:]], then [np.random.randn(y, x) (/np.sqrt(x))].
  auto draw = [&](bool scaled) {
    for (size_t l = 0; l < L; ++l) {
      net->biases[l].resize(arch.sizes[l + 1]);
      for (int i = 0; i < arch.sizes[l + 1]; ++i) net->biases[l](i) = rng.randn();
    }
    for (size_t l = 0; l < L; ++l) {
      const int y = arch.sizes[l + 1], x = arch.sizes[l];
      const double root = std::sqrt(static_cast<double>(x));
      Eigen::MatrixXd& w = net->weights[l];  // (y, x), drawn row by row as numpy's C order
      w.resize(y, x);
      for (int i = 0; i < y; ++i)
        for (int j = 0; j < x; ++j) {
          double v = rng.randn();
          w(i, j) = scaled ? v / root : v;
        }
    }
  };
  if (opts.network2) {
    draw(/*scaled=*/true);                       // __init__ -> default_weight_initializer()
    if (opts.init == Init::kLarge) draw(false);  // net.large_weight_initializer()
  } else {
    draw(opts.init == Init::kDefault);
  }
  return Status::Ok();
}

Eigen::VectorXd reference_feedforward(const ReferenceNetwork& net, const Eigen::VectorXd& x) {
  std::vector<Eigen::MatrixXd> zs, as;
  forward(net, Eigen::MatrixXd(x), zs, as);
  return as.back().col(0);
}

ReferenceEval reference_evaluate(const ReferenceNetwork& net, const Dataset& data,
                                 const std::vector<uint32_t>& order, bool want_cost,
                                 double lambda) {
  ReferenceEval r;
  const size_t n = data.size();
  r.total = static_cast<long>(n);
  std::vector<uint32_t> idx = order;
  if (idx.empty()) {
    idx.resize(n);
    for (size_t i = 0; i < n; ++i) idx[i] = static_cast<uint32_t>(i);
  }
  const int outputs = net.arch.sizes.back();
  const double len = static_cast<double>(n);
  constexpr size_t kChunk = 1000;  // columns per forward pass: bounded memory, GEMM-sized work
  Eigen::MatrixXd x;               // (pixels, chunk)
  std::vector<Eigen::MatrixXd> zs, as;
  double cost = 0.0;
  std::vector<double> scratch;
  for (size_t start = 0; start < n; start += kChunk) {
    const int m = static_cast<int>(std::min(kChunk, n - start));
    gather(data, idx.data() + start, m, x);
    forward(net, x, zs, as);
    const Eigen::MatrixXd& a = as.back();  // (outputs, m)
    for (int j = 0; j < m; ++j) {
      const int label = data.labels[idx[start + j]];
      if (argmax(a.col(j).data(), outputs) == label) ++r.correct;
      if (want_cost) cost += cost_fn(net.arch.cost, a.col(j).data(), outputs, label, scratch) / len;
    }
  }
  if (want_cost) {
    // 0.5*(lmbda/len(data))*sum(np.linalg.norm(w)**2 for w in self.weights); Python's sum()
    // starts from the int 0.
    double s = 0.0;
    for (const auto& w : net.weights) {
      double nrm = std::sqrt(w.squaredNorm());
      s += nrm * nrm;
    }
    cost += 0.5 * (lambda / len) * s;
    r.cost = cost;
  }
  return r;
}

Status reference_sgd(ReferenceNetwork& net, const Dataset& training, const Dataset* evaluation,
                     const ReferenceOptions& opts, const TrainCallbacks& callbacks,
                     std::vector<EpochReport>* history) {
  NNET_RETURN_IF_ERROR(validate_reference(net.arch, opts));
  const std::vector<int>& sizes = net.arch.sizes;
  const int outputs = sizes.back();
  if (training.empty()) return UsageError("reference engine: the training set is empty");
  auto check = [&](const Dataset& d, const char* what) -> Status {
    if (d.pixels() != sizes.front())
      return DataError(std::string("reference engine: ") + what + " images (" + d.source +
                       ") have " + std::to_string(d.pixels()) + " pixels, the network expects " +
                       std::to_string(sizes.front()));
    for (size_t i = 0; i < d.size(); ++i)
      if (d.labels[i] >= outputs)
        return DataError(std::string("reference engine: ") + what + " label " +
                         std::to_string(d.labels[i]) + " at index " + std::to_string(i) + " of " +
                         d.source + " is out of range for " + std::to_string(outputs) + " outputs");
    if (d.images.size() != d.size() * static_cast<size_t>(d.pixels()))
      return DataError(std::string("reference engine: ") + what + " set " + d.source + " holds " +
                       std::to_string(d.images.size()) + " floats, expected " +
                       std::to_string(d.size() * static_cast<size_t>(d.pixels())));
    return Status::Ok();
  };
  NNET_RETURN_IF_ERROR(check(training, "training"));
  const bool want_eval = opts.monitor_evaluation_cost || opts.monitor_evaluation_accuracy;
  if (want_eval && (evaluation == nullptr || evaluation->empty()))
    return UsageError(
        "reference engine: evaluation monitors are on but there is no evaluation set");
  if (want_eval) NNET_RETURN_IF_ERROR(check(*evaluation, "evaluation"));
  if (training.size() > UINT32_MAX) return UsageError("reference engine: training set too large");

  const size_t n = training.size();
  const size_t L = net.weights.size();
  PyRandom shuffle_rng(opts.python_seed);  // random.seed(python_seed)
  std::vector<uint32_t> order(n);          // the training_data list, shuffled in place each epoch
  for (size_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
  const size_t batches =
      (n + static_cast<size_t>(opts.batch) - 1) / static_cast<size_t>(opts.batch);

  Eigen::MatrixXd x;                        // (sizes[0], m) the mini-batch, one column per example
  std::vector<Eigen::MatrixXd> zs, as;      // per layer l: (sizes[l+1], m)
  std::vector<Eigen::MatrixXd> delta(L);    // per layer l: (sizes[l+1], m)
  std::vector<Eigen::MatrixXd> nabla_w(L);  // per layer l: (sizes[l+1], sizes[l])
  std::vector<Eigen::VectorXd> nabla_b(L);  // per layer l: (sizes[l+1])
  // network2: (1-eta*(lmbda/n))*w; network.py has no decay factor (1.0 is exact).
  const double decay =
      opts.network2 ? 1.0 - opts.eta * (opts.lambda / static_cast<double>(n)) : 1.0;

  for (int epoch = 0; epoch < opts.epochs; ++epoch) {
    EpochReport rep;
    rep.epoch = epoch;
    rep.eta = opts.eta;
    auto t0 = Clock::now();
    if (opts.python2_shuffle)
      shuffle_rng.shuffle_py2(order);
    else
      shuffle_rng.shuffle(order);
    for (size_t b = 0; b < batches; ++b) {
      const size_t k = b * static_cast<size_t>(opts.batch);
      const int m = static_cast<int>(std::min(static_cast<size_t>(opts.batch), n - k));
      gather(training, order.data() + k, m, x);
      forward(net, x, zs, as);
      // Output error: cross-entropy (a-y); quadratic (a-y)*sigmoid_prime(z), with
      // sigmoid_prime(z) = sigmoid(z)*(1-sigmoid(z)) evaluated as numpy does.
      Eigen::MatrixXd& d = delta[L - 1];
      d = as[L - 1];
      for (int j = 0; j < m; ++j) d(training.labels[order[k + j]], j) -= 1.0;
      if (net.arch.cost == Cost::kQuadratic) {
        for (Eigen::Index i = 0; i < d.size(); ++i) {
          const double s = 1.0 / (1.0 + std::exp(-zs[L - 1].data()[i]));
          d.data()[i] = d.data()[i] * (s * (1.0 - s));
        }
      }
      for (size_t l = L; l-- > 0;) {
        if (l + 1 < L) {
          // delta = np.dot(self.weights[-l+1].transpose(), delta) * sp
          delta[l].noalias() = net.weights[l + 1].transpose() * delta[l + 1];
          for (Eigen::Index i = 0; i < delta[l].size(); ++i) {
            const double s = 1.0 / (1.0 + std::exp(-zs[l].data()[i]));
            delta[l].data()[i] = delta[l].data()[i] * (s * (1.0 - s));
          }
        }
        const Eigen::MatrixXd& in = l == 0 ? x : as[l - 1];
        nabla_w[l].noalias() = delta[l] * in.transpose();  // sum of np.dot(delta, a.T)
        nabla_b[l] = delta[l].col(0);                      // nb + dnb, in example order
        for (int j = 1; j < m; ++j) nabla_b[l] += delta[l].col(j);
      }
      const double step = opts.eta / static_cast<double>(m);  // eta/len(mini_batch)
      for (size_t l = 0; l < L; ++l) {
        if (opts.network2)
          net.weights[l] = decay * net.weights[l] - step * nabla_w[l];
        else
          net.weights[l] = net.weights[l] - step * nabla_w[l];
        net.biases[l] = net.biases[l] - step * nabla_b[l];
      }
      if (callbacks.on_batch) callbacks.on_batch(b + 1, batches);
      if (callbacks.should_stop && callbacks.should_stop())
        return Status::Error(Code::kInterrupted, "reference engine: stopped during epoch " +
                                                     std::to_string(epoch) + " after mini-batch " +
                                                     std::to_string(b + 1) + " of " +
                                                     std::to_string(batches));
    }
    rep.train_seconds = seconds_since(t0);

    // Monitors in network2's order. accuracy() and total_cost() run the same feedforward, so one
    // pass serves both (the results are identical to running it twice).
    auto t1 = Clock::now();
    if (opts.monitor_training_cost || opts.monitor_training_accuracy) {
      ReferenceEval e =
          reference_evaluate(net, training, order, opts.monitor_training_cost, opts.lambda);
      if (opts.monitor_training_cost) rep.training_cost = e.cost;
      if (opts.monitor_training_accuracy) rep.training_correct = e.correct;
      rep.training_total = e.total;
    }
    if (want_eval) {
      ReferenceEval e =
          reference_evaluate(net, *evaluation, {}, opts.monitor_evaluation_cost, opts.lambda);
      if (opts.monitor_evaluation_cost) rep.evaluation_cost = e.cost;
      if (opts.monitor_evaluation_accuracy) rep.evaluation_correct = e.correct;
      rep.evaluation_total = e.total;
    }
    rep.eval_seconds = seconds_since(t1);
    if (history) history->push_back(rep);
    if (callbacks.on_epoch) callbacks.on_epoch(rep);
  }
  return Status::Ok();
}

Status reference_train(const Architecture& arch, const Dataset& training, const Dataset* evaluation,
                       const ReferenceOptions& opts, const TrainCallbacks& callbacks,
                       ReferenceNetwork* net_out, std::vector<EpochReport>* history) {
  NNET_RETURN_IF_ERROR(reference_init(arch, opts, net_out));
  return reference_sgd(*net_out, training, evaluation, opts, callbacks, history);
}

Network to_network(const ReferenceNetwork& ref) {
  Network net(ref.arch);
  for (int l = 0; l < net.layers(); ++l) {
    net.weight(l) = ref.weights[static_cast<size_t>(l)].cast<float>();
    net.bias(l) = ref.biases[static_cast<size_t>(l)].cast<float>();
  }
  return net;
}

std::vector<std::string> reference_epoch_lines(const EpochReport& r, const ReferenceOptions& opts) {
  std::vector<std::string> lines;
  const std::string j = std::to_string(r.epoch);
  if (!opts.network2) {
    if (r.evaluation_correct >= 0)
      lines.push_back("Epoch " + j + ": " + std::to_string(r.evaluation_correct) + " / " +
                      std::to_string(r.evaluation_total));
    else
      lines.push_back("Epoch " + j + " complete");
    return lines;
  }
  lines.push_back("Epoch " + j + " training complete");
  if (opts.monitor_training_cost)
    lines.push_back("Cost on training data: " + py_repr(r.training_cost));
  if (opts.monitor_training_accuracy)
    lines.push_back("Accuracy on training data: " + std::to_string(r.training_correct) + " / " +
                    std::to_string(r.training_total));
  if (opts.monitor_evaluation_cost)
    lines.push_back("Cost on evaluation data: " + py_repr(r.evaluation_cost));
  if (opts.monitor_evaluation_accuracy)
    lines.push_back("Accuracy on evaluation data: " + std::to_string(r.evaluation_correct) + " / " +
                    std::to_string(r.evaluation_total));
  lines.push_back("");
  return lines;
}

}  // namespace nnet
