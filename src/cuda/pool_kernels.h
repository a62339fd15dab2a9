// Max and average pooling, P x P windows of stride P (P divides h and w). Max pooling keeps each
// window's first maximum in row-major order (as the CPU and theano's max_pool_2d) and routes the
// gradient back to it; every input belongs to one window, so the backward pass is a gather. The
// bodies of the kernels (common.h's Launch).
#pragma once

#include "common.h"

namespace nnet::cuda {

// Item o + out_size j: output o of sample j; max pooling records the winner's index in the
// sample's input.
template <class T>
struct PoolForward {
  static constexpr Launch kLaunch = Launch::kPerItem;
  static constexpr int kBlock = kThreads;
  PoolGeom g;
  const T* X;
  int ldx, m;
  T* a;
  int* argmax;
  const StepState* st;
  NNET_HD bool active() const { return !halted(st); }
  NNET_HD size_t items() const { return static_cast<size_t>(g.out_size()) * m; }
  NNET_HD void operator()(size_t idx) const {
    const size_t out_size = g.out_size();
    const int j = static_cast<int>(idx / out_size);
    const int o = static_cast<int>(idx % out_size);
    const int c = o / (g.oh * g.ow), oy = (o / g.ow) % g.oh, ox = o % g.ow;
    const T* x = X + static_cast<size_t>(ldx) * j;
    int best = (c * g.h + oy * g.p) * g.w + ox * g.p;
    T acc = 0, mx = x[best];
    for (int py = 0; py < g.p; ++py)
      for (int px = 0; px < g.p; ++px) {
        const int k = (c * g.h + oy * g.p + py) * g.w + ox * g.p + px;
        acc += x[k];
        if (x[k] > mx) {
          mx = x[k];
          best = k;
        }
      }
    if (g.is_max) {
      a[idx] = mx;
      argmax[idx] = best;
    } else {
      a[idx] = acc * (T(1) / static_cast<T>(g.p * g.p));
    }
  }
};

// Item i + in_size j: input element i of sample j takes its window's gradient (max: if it won).
template <class T>
struct PoolBackward {
  static constexpr Launch kLaunch = Launch::kPerItem;
  static constexpr int kBlock = kThreads;
  PoolGeom g;
  const T* d;
  const int* argmax;
  int m;
  T* dX;
  Epilogue<T> ep;
  const StepState* st;
  NNET_HD bool active() const { return !halted(st); }
  NNET_HD size_t items() const { return static_cast<size_t>(g.in_size()) * m; }
  NNET_HD void operator()(size_t idx) const {
    const size_t in_size = g.in_size(), out_size = g.out_size();
    const int j = static_cast<int>(idx / in_size);
    const int i = static_cast<int>(idx % in_size);
    const int c = i / (g.h * g.w), iy = (i / g.w) % g.h, ix = i % g.w;
    const size_t o = static_cast<size_t>((c * g.oh + iy / g.p) * g.ow + ix / g.p) + out_size * j;
    T s;
    if (g.is_max)
      s = argmax[o] == i ? d[o] : T(0);
    else
      s = d[o] * (T(1) / static_cast<T>(g.p * g.p));
    dX[idx] = ep(s, idx);
  }
};

}  // namespace nnet::cuda
