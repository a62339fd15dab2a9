// fc and softmax layers: z = W x + b with W (N, K) column-major, a = act(z). At the batch sizes SGD
// runs (10 to 64) one thread per output keeps the whole layer in one launch; evaluation's large
// batches take a GEMM first (cuBLAS on the device) and only the bias and activation here.
// Layouts as on the CPU (network.h): one sample per column; a layer's input X has leading
// dimension ldx, its own buffers the layer's size. The bodies of the kernels (common.h's Launch).
#pragma once

#include "common.h"

namespace nnet::cuda {

// sum_k W[r + N k] x[k], four independent partial sums (fixed order) for instruction-level
// parallelism.
template <class T>
NNET_HD inline T dot_column(const T* W, int N, int K, int r, const T* x) {
  T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int k = 0;
  for (; k + 3 < K; k += 4) {
    s0 += W[r + static_cast<size_t>(N) * k] * x[k];
    s1 += W[r + static_cast<size_t>(N) * (k + 1)] * x[k + 1];
    s2 += W[r + static_cast<size_t>(N) * (k + 2)] * x[k + 2];
    s3 += W[r + static_cast<size_t>(N) * (k + 3)] * x[k + 3];
  }
  for (; k < K; ++k) s0 += W[r + static_cast<size_t>(N) * k] * x[k];
  return (s0 + s1) + (s2 + s3);
}

// z = W X + b, a = act(z) (act not softmax), (N, m); with drop.p > 0 (dense nets, training) a is
// multiplied in place by a fresh mask, stored in `mask`. Item r + N j.
template <class T>
struct FcForward {
  static constexpr Launch kLaunch = Launch::kPerItem;
  static constexpr int kBlock = kThreads;
  const T* W;
  const T* b;
  int N, K;
  const T* X;
  int ldx, m, act;
  T* z;
  T* a;
  DropoutCfg<T> drop;
  T* mask;
  const StepState* st;
  NNET_HD bool active() const { return !halted(st); }
  NNET_HD size_t items() const { return static_cast<size_t>(N) * m; }
  NNET_HD void operator()(size_t idx) const {
    const int r = static_cast<int>(idx % N), j = static_cast<int>(idx / N);
    const T zz = dot_column(W, N, K, r, X + static_cast<size_t>(ldx) * j) + b[r];
    T aa = activate(act, zz);
    if (drop.p > 0) {
      const T keep = drop.mask(st->step, idx);
      mask[idx] = keep;
      aa *= keep;
    }
    z[idx] = zz;
    a[idx] = aa;
  }
};

// Bias and activation after z = W X came from a GEMM, in place on z. Item r + N j.
template <class T>
struct BiasActivate {
  static constexpr Launch kLaunch = Launch::kPerItem;
  static constexpr int kBlock = kThreads;
  const T* b;
  int N, m, act;
  T* z;
  T* a;
  const StepState* st;
  NNET_HD bool active() const { return !halted(st); }
  NNET_HD size_t items() const { return static_cast<size_t>(N) * m; }
  NNET_HD void operator()(size_t idx) const {
    const T zz = z[idx] + b[idx % N];
    z[idx] = zz;
    a[idx] = activate(act, zz);
  }
};

// Softmax layer: z = W X + b (unless have_z: z already holds W X), a = softmax(z) per column.
// One block per sample: thread t computes outputs r = t, t + n, ...; then the column's max and
// sum over the fixed tree.
template <class T>
struct SoftmaxForward {
  static constexpr Launch kLaunch = Launch::kSoftmax;
  using Value = T;
  const T* W;
  const T* b;
  int N, K;
  const T* X;
  int ldx, m;
  bool have_z;
  T* z;
  T* a;
  const StepState* st;
  NNET_HD bool active() const { return !halted(st); }
  NNET_HD unsigned blocks() const { return static_cast<unsigned>(m); }
  NNET_HD int threads() const {
    int t = kWarp;
    while (t < N && t < 1024) t *= 2;
    return t;
  }
  NNET_HD T first(int j, int t, int n) const {
    T* zj = z + static_cast<size_t>(N) * j;
    T mx = -static_cast<T>(INFINITY);
    for (int r = t; r < N; r += n) {
      const T v =
          have_z ? zj[r] + b[r] : dot_column(W, N, K, r, X + static_cast<size_t>(ldx) * j) + b[r];
      zj[r] = v;
      mx = v > mx ? v : mx;
    }
    return mx;
  }
  NNET_HD T second(int j, int t, int n, T mx) const {
    const T* zj = z + static_cast<size_t>(N) * j;
    T* aj = a + static_cast<size_t>(N) * j;
    T sum = 0;
    for (int r = t; r < N; r += n) {
      const T e = hd_exp(zj[r] - mx);
      aj[r] = e;
      sum += e;
    }
    return sum;
  }
  NNET_HD void last(int j, int t, int n, T, T sum) const {
    T* aj = a + static_cast<size_t>(N) * j;
    for (int r = t; r < N; r += n) aj[r] /= sum;
  }
};

// gW = d X^T (N, K), gb = d 1 (N): this batch's gradient, overwritten. Item (r, k) of W for
// idx < N K, then r of b.
template <class T>
struct FcGrad {
  static constexpr Launch kLaunch = Launch::kPerItem;
  static constexpr int kBlock = kThreads;
  const T* d;
  int N, K;
  const T* X;
  int ldx, m;
  T* gW;
  T* gb;
  const StepState* st;
  NNET_HD bool active() const { return !halted(st); }
  NNET_HD size_t items() const { return static_cast<size_t>(N) * K + N; }
  NNET_HD void operator()(size_t idx) const {
    const size_t nw = static_cast<size_t>(N) * K;
    if (idx < nw) {
      const int r = static_cast<int>(idx % N), k = static_cast<int>(idx / N);
      T s = 0;
      for (int j = 0; j < m; ++j)
        s += d[r + static_cast<size_t>(N) * j] * X[k + static_cast<size_t>(ldx) * j];
      gW[idx] = s;
    } else {
      const int r = static_cast<int>(idx - nw);
      T s = 0;
      for (int j = 0; j < m; ++j) s += d[r + static_cast<size_t>(N) * j];
      gb[r] = s;
    }
  }
};

// dX = W^T d (K, m) through the epilogue of the layer below. Item k + K j.
template <class T>
struct FcBackwardInput {
  static constexpr Launch kLaunch = Launch::kPerItem;
  static constexpr int kBlock = kThreads;
  const T* W;
  int N, K;
  const T* d;
  int m;
  T* dX;
  Epilogue<T> ep;
  const StepState* st;
  NNET_HD bool active() const { return !halted(st); }
  NNET_HD size_t items() const { return static_cast<size_t>(K) * m; }
  NNET_HD void operator()(size_t idx) const {
    const int k = static_cast<int>(idx % K), j = static_cast<int>(idx / K);
    const T* w = W + static_cast<size_t>(N) * k;  // column k: contiguous
    const T* dj = d + static_cast<size_t>(N) * j;
    T s0 = 0, s1 = 0;
    int r = 0;
    for (; r + 1 < N; r += 2) {
      s0 += w[r] * dj[r];
      s1 += w[r + 1] * dj[r + 1];
    }
    if (r < N) s0 += w[r] * dj[r];
    dX[idx] = ep(s0 + s1, idx);
  }
};

}  // namespace nnet::cuda
