// What lets the CUDA kernels' bodies compile twice: by nvcc for the GPU, and by the host compiler
// (g++, no CUDA headers) for the tests that run the very same bodies in plain loops
// (host_exec.h). Each kernel's per-thread work is an NNET_HD function; the few things that differ
// between the two (math overloads, an integer atomic, warp shuffles) are spelled here once.
//
// Reductions: every sum a block or a warp shares goes through one fixed tree, tree_level(): level
// by level, v[t] = op(v[t], v[t + s]) for t < s, s = n/2, n/4, ..., 1, leaving the result in
// v[0]. The device runs a level's t in parallel (shared memory, or warp lanes by shuffle-down,
// which pairs lane t with lane t + s the same way); the host runs them in a loop. Same operands,
// same order: the host reproduces the device's summation tree exactly.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#ifdef __CUDACC__
#define NNET_HD __host__ __device__
#else
#define NNET_HD
#endif

namespace nnet::cuda {

// Threads per block of the one-item-per-thread kernels, and of the block reductions.
constexpr int kThreads = 256;
// Lanes of a warp.
constexpr int kWarp = 32;

inline unsigned blocks_for(size_t n, int threads = kThreads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

// ---- Math, the float overloads on the device (expf, ...) and std:: on the host ----
#ifdef __CUDA_ARCH__
template <class T>
__device__ inline T hd_exp(T x) {
  return exp(x);
}
template <class T>
__device__ inline T hd_tanh(T x) {
  return tanh(x);
}
__device__ inline double hd_log(double x) { return log(x); }
__device__ inline double hd_sqrt(double x) { return sqrt(x); }
__device__ inline double hd_fmax(double a, double b) { return fmax(a, b); }
template <class T>
__device__ inline bool hd_isfinite(T x) {
  return isfinite(x);
}
#else
template <class T>
inline T hd_exp(T x) {
  return std::exp(x);
}
template <class T>
inline T hd_tanh(T x) {
  return std::tanh(x);
}
inline double hd_log(double x) { return std::log(x); }
inline double hd_sqrt(double x) { return std::sqrt(x); }
inline double hd_fmax(double a, double b) { return std::fmax(a, b); }
template <class T>
inline bool hd_isfinite(T x) {
  return std::isfinite(x);
}
#endif

// *p = min(*p, v): an integer atomic on the device (the same winner whatever the threads' order).
NNET_HD inline void atomic_min(long long* p, long long v) {
#ifdef __CUDA_ARCH__
  atomicMin(p, v);
#else
  if (v < *p) *p = v;
#endif
}

// ---- The fixed reduction tree (see the top of this file) ----
struct SumOp {
  template <class V>
  NNET_HD V operator()(V a, V b) const {
    return a + b;
  }
};
// The larger; a NaN on the right never replaces the left (as `if (b > a) a = b`).
struct MaxOp {
  template <class V>
  NNET_HD V operator()(V a, V b) const {
    return b > a ? b : a;
  }
};

// One level s of the tree, at position t.
template <class V, class Op>
NNET_HD inline void tree_level(V* v, int s, int t, Op op) {
  if (t < s) v[t] = op(v[t], v[t + s]);
}

// The whole tree over n (a power of two) partials, one level after another; the result.
template <class V, class Op>
NNET_HD inline V tree_reduce(V* v, int n, Op op) {
  for (int s = n / 2; s > 0; s >>= 1)
    for (int t = 0; t < s; ++t) tree_level(v, s, t, op);
  return v[0];
}

}  // namespace nnet::cuda
