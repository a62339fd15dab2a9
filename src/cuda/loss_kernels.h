// Data in, errors out: the mini-batch gather, the output error, the per-sample scores evaluation
// needs, and the health probe's evidence (health.h's tally_batch, computed where the activations
// are). Costs are in double, as sample_cost() computes them. The bodies of the kernels (common.h's
// Launch).
#pragma once

#include "common.h"

namespace nnet::cuda {

// sample_cost() (network.h): quadratic 0.5 |a - y|^2; cross-entropy sum -y ln a - (1-y) ln(1-a)
// with the log's argument clamped at 1e-300; log-likelihood -ln a_y.
template <class T>
NNET_HD inline double cost_of(int cost, const T* a, int n, int label) {
  double c = 0;
  switch (cost) {
    case kQuadratic:
      for (int i = 0; i < n; ++i) {
        const double diff = static_cast<double>(a[i]) - (i == label ? 1.0 : 0.0);
        c += diff * diff;
      }
      return 0.5 * c;
    case kCrossEntropy:
      for (int i = 0; i < n; ++i) {
        const double ai = a[i];
        c += i == label ? -hd_log(hd_fmax(ai, 1e-300)) : -hd_log(hd_fmax(1.0 - ai, 1e-300));
      }
      return c;
    default:
      return -hd_log(hd_fmax(static_cast<double>(a[label]), 1e-300));
  }
}

// The index of the first maximum (np.argmax).
template <class T>
NNET_HD inline int first_max(const T* a, int n) {
  int arg = 0;
  for (int k = 1; k < n; ++k)
    if (a[k] > a[arg]) arg = k;
  return arg;
}

// x (pixels, m) and y (m) <- the images and labels at order[batch * batch_size + j], the batch
// being st->step - st->epoch_first. Item p + pixels j.
template <class T>
struct Gather {
  static constexpr Launch kLaunch = Launch::kPerItem;
  static constexpr int kBlock = kThreads;
  const float* images;
  const uint8_t* labels;
  int pixels;
  const uint32_t* order;
  int batch_size, m;
  T* x;
  uint8_t* y;
  const StepState* st;
  NNET_HD bool active() const { return !halted(st); }
  NNET_HD size_t items() const { return static_cast<size_t>(pixels) * m; }
  NNET_HD void operator()(size_t idx) const {
    const int p = static_cast<int>(idx % pixels), j = static_cast<int>(idx / pixels);
    const size_t begin = static_cast<size_t>(st->step - st->epoch_first) * batch_size;
    const uint32_t image = order[begin + j];
    x[idx] = static_cast<T>(images[static_cast<size_t>(image) * pixels + p]);
    if (p == 0) y[j] = labels[image];
  }
};

// d = a - onehot(y) (times act'(z) for the quadratic cost), (n, m); a non-finite one records the
// step in st->bad_step. Item r + n j.
template <class T>
struct OutputError {
  static constexpr Launch kLaunch = Launch::kPerItem;
  static constexpr int kBlock = kThreads;
  const T* z;
  const T* a;
  const uint8_t* y;
  int n, m, act, cost;
  T* d;
  StepState* st;
  NNET_HD bool active() const { return !halted(st); }
  NNET_HD size_t items() const { return static_cast<size_t>(n) * m; }
  NNET_HD void operator()(size_t idx) const {
    const int r = static_cast<int>(idx % n), j = static_cast<int>(idx / n);
    T v = a[idx] - (r == y[j] ? T(1) : T(0));
    // Cross-entropy with sigmoid and log-likelihood with softmax give exactly a - y.
    if (cost == kQuadratic) v *= derivative(act, z[idx], a[idx]);
    d[idx] = v;
    if (!hd_isfinite(v)) atomic_min(&st->bad_step, st->step);  // integer: the same winner always
  }
};

// Per sample j: the first maximum's index and the cost (sample_cost()). Item j.
template <class T>
struct Score {
  static constexpr Launch kLaunch = Launch::kPerItem;
  static constexpr int kBlock = 128;
  const T* a;
  int n;
  const uint8_t* y;
  int m, cost;
  uint8_t* argmax;
  double* cost_out;
  NNET_HD bool active() const { return true; }
  NNET_HD size_t items() const { return static_cast<size_t>(m); }
  NNET_HD void operator()(size_t j) const {
    const T* aj = a + static_cast<size_t>(n) * j;
    argmax[j] = static_cast<uint8_t>(first_max(aj, n));
    cost_out[j] = cost_of(cost, aj, n, y[j]);
  }
};

// The probe's evidence of this batch in slot st->probe_count: per sample argmax, cost and pinned
// outputs (sigmoid outputs < 0.01 on the label, > 0.99 elsewhere); stride: samples per slot.
// Item j.
template <class T>
struct ProbeSamples {
  static constexpr Launch kLaunch = Launch::kPerItem;
  static constexpr int kBlock = 128;
  const T* a;
  int n;
  const uint8_t* y;
  int m, cost;
  bool sigmoid_out;
  int stride;
  uint8_t* argmax;
  double* cost_out;
  int* pinned;
  const StepState* st;
  NNET_HD bool active() const { return !halted(st); }
  NNET_HD size_t items() const { return static_cast<size_t>(m); }
  NNET_HD void operator()(size_t j) const {
    const size_t at = static_cast<size_t>(st->probe_count) * stride + j;
    const T* aj = a + static_cast<size_t>(n) * j;
    argmax[at] = static_cast<uint8_t>(first_max(aj, n));
    cost_out[at] = cost_of(cost, aj, n, y[j]);
    int p = 0;
    if (sigmoid_out)
      for (int k = 0; k < n; ++k) p += k == y[j] ? aj[k] < T(0.01f) : aj[k] > T(0.99f);
    pinned[at] = p;
  }
};

// Per unit u of a hidden layer: ever > 0 (ReLU) or its count outside the saturation band
// (sigmoid, tanh), accumulated over the tally. Item u.
template <class T>
struct ProbeUnits {
  static constexpr Launch kLaunch = Launch::kPerItem;
  static constexpr int kBlock = kThreads;
  const T* a;
  int units, m, act;
  float lo, hi;
  uint8_t* active_units;
  int* sat;
  const StepState* st;
  NNET_HD bool active() const { return !halted(st); }
  NNET_HD size_t items() const { return static_cast<size_t>(units); }
  NNET_HD void operator()(size_t u) const {
    if (act == kRelu) {
      uint8_t on = active_units[u];
      for (int j = 0; j < m; ++j) on |= a[u + static_cast<size_t>(units) * j] > T(0);
      active_units[u] = on;
    } else {
      int count = sat[u];
      for (int j = 0; j < m; ++j) {
        const float v = static_cast<float>(a[u + static_cast<size_t>(units) * j]);
        count += static_cast<int>(v < lo) + static_cast<int>(v > hi);
      }
      sat[u] = count;
    }
  }
};

// |dC/db| / m of weight layer l from its dC/dz d (units = rows * positions), into
// out[slot * L + l]. One block: thread t takes biases r = t, t + kThreads, ...: g_r summed over
// samples then positions (double, as tally_batch), g_r^2 added; the block's tree sums those.
template <class T>
struct ProbeBiasNorm {
  static constexpr Launch kLaunch = Launch::kPerGroup;
  static constexpr int kGroup = kThreads;
  using Acc = double;
  const T* d;
  int units, rows, m, l, L;
  double* out;
  const StepState* st;
  NNET_HD bool active() const { return !halted(st); }
  NNET_HD size_t groups() const { return 1; }
  NNET_HD double partial(size_t, int t) const {
    const int per = units / rows;
    double sq = 0;
    for (int r = t; r < rows; r += kGroup) {
      double g = 0;
      for (int j = 0; j < m; ++j)
        for (int q = 0; q < per; ++q)
          g += d[static_cast<size_t>(r) * per + q + static_cast<size_t>(units) * j];
      sq += g * g;
    }
    return sq;
  }
  NNET_HD void finish(size_t, double sq) const {
    out[static_cast<size_t>(st->probe_count) * L + l] = hd_sqrt(sq) / m;
  }
};

// Ends a probed step: st->probe_count += 1. One item.
struct ProbeAdvance {
  static constexpr Launch kLaunch = Launch::kPerItem;
  static constexpr int kBlock = 1;
  StepState* st;
  NNET_HD bool active() const { return !halted(st); }
  NNET_HD size_t items() const { return 1; }
  NNET_HD void operator()(size_t) const { st->probe_count += 1; }
};

}  // namespace nnet::cuda
