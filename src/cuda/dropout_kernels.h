// Dropout layers: while training each input unit is kept (times cfg.keep: 1 for network3's
// dropout, 1/(1-p) inverted) unless its draw (common.h) falls below p; at test time every unit is
// multiplied by cfg.test_scale (1-p for network3's, 1 inverted). The bodies of the kernels
// (common.h's Launch).
#pragma once

#include "common.h"

namespace nnet::cuda {

// Item u + n j: unit u of sample j; its mask (training) lands in mask[idx].
template <class T>
struct DropoutForward {
  static constexpr Launch kLaunch = Launch::kPerItem;
  static constexpr int kBlock = kThreads;
  int n;
  const T* X;
  int ldx, m;
  bool training;
  DropoutCfg<T> cfg;
  T* mask;
  T* a;
  const StepState* st;
  NNET_HD bool active() const { return !halted(st); }
  NNET_HD size_t items() const { return static_cast<size_t>(n) * m; }
  NNET_HD void operator()(size_t idx) const {
    const int u = static_cast<int>(idx % n), j = static_cast<int>(idx / n);
    const T x = X[u + static_cast<size_t>(ldx) * j];
    if (!training) {
      a[idx] = x * cfg.test_scale;
      return;
    }
    const T keep = cfg.mask(st->step, idx);
    mask[idx] = keep;
    a[idx] = x * keep;
  }
};

// Item u + n j: dX = d times the mask (training) or the test scale, through the epilogue.
template <class T>
struct DropoutBackward {
  static constexpr Launch kLaunch = Launch::kPerItem;
  static constexpr int kBlock = kThreads;
  int n;
  const T* d;
  const T* mask;
  int m;
  bool training;
  T test_scale;
  T* dX;
  Epilogue<T> ep;
  const StepState* st;
  NNET_HD bool active() const { return !halted(st); }
  NNET_HD size_t items() const { return static_cast<size_t>(n) * m; }
  NNET_HD void operator()(size_t idx) const {
    dX[idx] = ep(d[idx] * (training ? mask[idx] : test_scale), idx);
  }
};

}  // namespace nnet::cuda
