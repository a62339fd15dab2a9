// conv layers, cross-correlation as src/conv.h defines it: out(f, y, x) = b(f) + sum_{c, ky, kx}
// W(f, (c*k + ky)*k + kx) in(c, y*s + ky - p, x*s + kx - p), zeros outside the input. Direct
// loops, one thread per output (forward, input gradient) or one warp per weight (its gradient sums
// over every position of every sample: lanes take fixed strides, then the fixed tree). The bodies
// of the kernels (common.h's Launch).
#pragma once

#include "common.h"

namespace nnet::cuda {

// Item o + out_size j: output o of sample j.
template <class T>
struct ConvForward {
  static constexpr Launch kLaunch = Launch::kPerItem;
  static constexpr int kBlock = kThreads;
  ConvGeom g;
  const T* W;
  const T* b;
  const T* X;
  int ldx, m, act;
  T* z;
  T* a;
  const StepState* st;
  NNET_HD bool active() const { return !halted(st); }
  NNET_HD size_t items() const { return static_cast<size_t>(g.out_size()) * m; }
  NNET_HD void operator()(size_t idx) const {
    const size_t out_size = g.out_size();
    const int j = static_cast<int>(idx / out_size);
    const int o = static_cast<int>(idx % out_size);
    const int f = o / (g.oh * g.ow), oy = (o / g.ow) % g.oh, ox = o % g.ow;
    const T* x = X + static_cast<size_t>(ldx) * j;
    T s = 0;
    for (int c = 0; c < g.c; ++c)
      for (int ky = 0; ky < g.k; ++ky) {
        const int iy = oy * g.s + ky - g.p;
        if (iy < 0 || iy >= g.h) continue;
        for (int kx = 0; kx < g.k; ++kx) {
          const int ix = ox * g.s + kx - g.p;
          if (ix < 0 || ix >= g.w) continue;
          s += W[f + static_cast<size_t>(g.f) * ((c * g.k + ky) * g.k + kx)] *
               x[(c * g.h + iy) * g.w + ix];
        }
      }
    const T zz = s + b[f];
    z[idx] = zz;
    a[idx] = activate(act, zz);
  }
};

// gW (F, patch) and gb (F) of this batch, overwritten. Group (a warp) w < F * patch: the weight
// (f, q) = (w % F, w / F), its index in gW; w < F * patch + F: the bias of filter w - F * patch.
// Lane t sums the terms t, t + 32, ... of (sample, position) pairs.
template <class T>
struct ConvGrad {
  static constexpr Launch kLaunch = Launch::kPerGroup;
  static constexpr int kGroup = kWarp;
  using Acc = T;
  ConvGeom g;
  const T* d;
  const T* X;
  int ldx, m;
  T* gW;
  T* gb;
  const StepState* st;
  NNET_HD bool active() const { return !halted(st); }
  NNET_HD size_t weights() const { return static_cast<size_t>(g.f) * g.patch(); }
  NNET_HD size_t groups() const { return weights() + g.f; }
  NNET_HD T partial(size_t w, int lane) const {
    const int positions = g.oh * g.ow;
    const size_t terms = static_cast<size_t>(positions) * m;
    const size_t out_size = g.out_size();
    T s = 0;
    if (w < weights()) {
      const int f = static_cast<int>(w % g.f), q = static_cast<int>(w / g.f);
      const int c = q / (g.k * g.k), ky = (q / g.k) % g.k, kx = q % g.k;
      for (size_t t = lane; t < terms; t += kWarp) {
        const int j = static_cast<int>(t / positions), pos = static_cast<int>(t % positions);
        const int oy = pos / g.ow, ox = pos % g.ow;
        const int iy = oy * g.s + ky - g.p, ix = ox * g.s + kx - g.p;
        if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
        s += d[static_cast<size_t>(f) * positions + pos + out_size * j] *
             X[(c * g.h + iy) * g.w + ix + static_cast<size_t>(ldx) * j];
      }
    } else {
      const int f = static_cast<int>(w - weights());
      for (size_t t = lane; t < terms; t += kWarp) {
        const int j = static_cast<int>(t / positions), pos = static_cast<int>(t % positions);
        s += d[static_cast<size_t>(f) * positions + pos + out_size * j];
      }
    }
    return s;
  }
  NNET_HD void finish(size_t w, T s) const {
    if (w < weights())
      gW[w] = s;
    else
      gb[w - weights()] = s;
  }
};

// dX through the epilogue of the layer below. Item i + in_size j: input element (c, iy, ix) of
// sample j, summed over every output whose window covers it.
template <class T>
struct ConvBackwardInput {
  static constexpr Launch kLaunch = Launch::kPerItem;
  static constexpr int kBlock = kThreads;
  ConvGeom g;
  const T* W;
  const T* d;
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
    const T* dj = d + out_size * j;
    T s = 0;
    for (int f = 0; f < g.f; ++f)
      for (int ky = 0; ky < g.k; ++ky) {
        const int ny = iy + g.p - ky;
        if (ny < 0 || ny % g.s != 0) continue;
        const int oy = ny / g.s;
        if (oy >= g.oh) continue;
        for (int kx = 0; kx < g.k; ++kx) {
          const int nx = ix + g.p - kx;
          if (nx < 0 || nx % g.s != 0) continue;
          const int ox = nx / g.s;
          if (ox >= g.ow) continue;
          s += W[f + static_cast<size_t>(g.f) * ((c * g.k + ky) * g.k + kx)] *
               dj[(f * g.oh + oy) * g.ow + ox];
        }
      }
    dX[idx] = ep(s, idx);
  }
};

}  // namespace nnet::cuda
