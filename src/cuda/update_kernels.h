// The SGD update (network.h's SgdRule, as apply_update applies it), the per-layer gradient norms
// of --record-gradients, and the finiteness check; all over the flat parameter buffer, llm.c
// style. The bodies of the kernels (common.h's Launch).
#pragma once

#include "common.h"

namespace nnet::cuda {

// The rule over all n parameters with this batch's gradient g (read from st: step = eta / m,
// decay and l1 on weights only, momentum mu with velocity v); then st->step += 1, also after a
// halted step (the step counter keys the next step's dropout and batch). Item i.
template <class T>
struct SgdUpdate {
  static constexpr Launch kLaunch = Launch::kPerItem;
  static constexpr int kBlock = kThreads;
  T* p;
  const T* g;
  T* v;
  size_t n;
  LayerBounds lb;
  int m;
  StepState* st;
  NNET_HD bool active() const { return true; }
  NNET_HD size_t items() const { return n; }
  NNET_HD void operator()(size_t i) const {
    // No kernel reads st->step but this thread, so item 0 advances it with no ordering to mind.
    const bool stop = halted(st);
    const double eta = st->eta, rdecay = st->decay, rl1 = st->l1, rmu = st->mu;
    if (i == 0) st->step += 1;
    if (stop) return;
    bool weight = false;
    for (int l = 0; l < lb.layers; ++l)
      if (i >= lb.w0[l] && i < lb.b1[l]) {
        weight = i < lb.b0[l];
        break;
      }
    const T step = static_cast<T>(eta / m), decay = static_cast<T>(rdecay);
    const T l1 = static_cast<T>(rl1), mu = static_cast<T>(rmu);
    const T w = p[i], gi = g[i];
    const T sgn = static_cast<T>((w > T(0)) - (w < T(0)));
    if (rmu > 0) {
      const T vi = mu * v[i] - step * gi;
      v[i] = vi;
      p[i] = weight ? decay * w + vi - (l1 != T(0) ? l1 * sgn : T(0)) : w + vi;
    } else if (!weight) {
      p[i] = w - step * gi;
    } else if (l1 != T(0)) {
      p[i] = decay * w - step * gi - l1 * sgn;
    } else if (rdecay != 1) {
      p[i] = decay * w - step * gi;
    } else {
      p[i] = w - step * gi;
    }
  }
};

// Per weight layer: |dC/db| / m and |dC/dW| / m into out[b * 2L + l] and out[b * 2L + L + l], b
// the batch in the epoch. Group k of 2L (a block): layer k % L, its biases (k < L) or weights;
// thread t sums the squares (double) of elements t, t + kThreads, ...; the block's tree sums
// those.
template <class T>
struct GradNorms {
  static constexpr Launch kLaunch = Launch::kPerGroup;
  static constexpr int kGroup = kThreads;
  using Acc = double;
  const T* g;
  LayerBounds lb;
  int m;
  double* out;
  const StepState* st;
  NNET_HD bool active() const { return !halted(st); }
  NNET_HD size_t groups() const { return 2 * static_cast<size_t>(lb.layers); }
  NNET_HD double partial(size_t k, int t) const {
    const int L = lb.layers, l = static_cast<int>(k % L);
    const bool bias = static_cast<int>(k) < L;
    const size_t begin = bias ? lb.b0[l] : lb.w0[l], end = bias ? lb.b1[l] : lb.b0[l];
    double s = 0;
    for (size_t i = begin + t; i < end; i += kGroup) {
      const double x = g[i];
      s += x * x;
    }
    return s;
  }
  NNET_HD void finish(size_t k, double s) const {
    const long long b = st->step - st->epoch_first;
    out[static_cast<size_t>(b) * 2 * lb.layers + k] = hd_sqrt(s) / m;
  }
};

// *flag = 1 if any of the n values is not finite (flag zeroed by the caller). Item i.
template <class T>
struct CheckFinite {
  static constexpr Launch kLaunch = Launch::kPerItem;
  static constexpr int kBlock = kThreads;
  const T* p;
  size_t n;
  int* flag;
  NNET_HD bool active() const { return true; }
  NNET_HD size_t items() const { return n; }
  NNET_HD void operator()(size_t i) const {
    if (!hd_isfinite(p[i])) *flag = 1;  // every writer writes 1: the same result always
  }
};

}  // namespace nnet::cuda
