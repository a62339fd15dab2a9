// What every CUDA layer file shares: the step state the kernels of one SGD step read from device
// memory (so a captured CUDA graph replays any step), activations and their derivatives, the
// epilogue that turns a layer's input gradient into the previous layer's dC/dz, fixed-order
// reductions, and the counter-based dropout draws. Deterministic throughout: no floating-point
// atomics; every sum has one order.
#pragma once

#include <cuda_runtime.h>
#include <curand_kernel.h>

#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace nnet::cuda {

// Aborts on a CUDA runtime error: after device_status() said the device is usable, a failing call
// is a bug or a lost device, not a recoverable input error.
#define NNET_CUDA_CHECK(expr)                                                               \
  do {                                                                                      \
    cudaError_t nnet_err_ = (expr);                                                         \
    if (nnet_err_ != cudaSuccess) {                                                         \
      std::fprintf(stderr, "nnet: CUDA error %s at %s:%d: %s\n", cudaGetErrorName(nnet_err_), \
                   __FILE__, __LINE__, cudaGetErrorString(nnet_err_));                      \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)
#define NNET_CUDA_LAUNCHED() NNET_CUDA_CHECK(cudaGetLastError())

constexpr long long kNoBadStep = LLONG_MAX;

// In device memory; written by the host between steps (position, rule) and by the kernels.
struct StepState {
  long long step = 0;             // global step index of the step running (keys dropout)
  long long epoch_first = 0;      // global step index of this epoch's mini-batch 0
  long long bad_step = kNoBadStep;  // first global step whose output error was not finite
  int probe_count = 0;            // probed mini-batches so far in this tally
  double eta = 0, decay = 1, l1 = 0, mu = 0;  // the epoch's rule; step = eta / m
};

// Once a step's output error was not finite, every later kernel leaves everything untouched.
__device__ inline bool halted(const StepState* st) { return st->bad_step != kNoBadStep; }

// nnet::Activation's values.
enum ActKind : int { kSigmoid = 0, kTanh = 1, kRelu = 2, kSoftmax = 3, kLinear = 4, kNoAct = -1 };
// nnet::Cost's values.
enum CostKind : int { kQuadratic = 0, kCrossEntropy = 1, kLogLikelihood = 2 };

template <class T>
__device__ inline T activate(int act, T z) {
  switch (act) {
    case kSigmoid:
      return T(1) / (T(1) + exp(-z));
    case kTanh:
      return tanh(z);
    case kRelu:
      return z > T(0) ? z : T(0);
    default:
      return z;
  }
}

// d act / dz from z and a = act(z).
template <class T>
__device__ inline T derivative(int act, T z, T a) {
  switch (act) {
    case kSigmoid:
      return a * (T(1) - a);
    case kTanh:
      return T(1) - a * a;
    case kRelu:
      return z > T(0) ? T(1) : T(0);
    default:
      return T(1);
  }
}

// d act / dz from z alone (for a layer whose stored a was multiplied by a dropout mask).
template <class T>
__device__ inline T derivative_from_z(int act, T z) {
  return derivative(act, z, activate(act, z));
}

// What becomes of the gradient a layer computes for its input, which is the previous layer's
// output: for a weight layer (conv, fc) dC/da turns into dC/dz (times its in-place dropout mask,
// then its activation's derivative); for any other layer it stays dC/da.
template <class T>
struct Epilogue {
  int act = kNoAct;          // the previous layer's activation, kNoAct if it has none
  const T* z = nullptr;      // its (size, m) pre-activations, leading dimension size
  const T* a = nullptr;      // its activations
  const T* mask = nullptr;   // its in-place dropout mask (dense nets), or null
  __device__ T operator()(T s, size_t idx) const {
    if (act == kNoAct) return s;
    if (mask) return (s * mask[idx]) * derivative_from_z(act, z[idx]);
    return s * derivative(act, z[idx], a[idx]);
  }
};

// A dropout draw: uniform in (0, 1] from Philox4x32-10 (cuRAND), a pure function of the run's
// seed, the global step and the element, so a resumed run draws what an uninterrupted one did.
__device__ inline float dropout_uniform(unsigned long long seed, long long step,
                                        unsigned long long element) {
  curandStatePhilox4_32_10_t s;
  curand_init(seed, static_cast<unsigned long long>(step), element, &s);
  return curand_uniform(&s);
}

// A dropout layer's (or a dense layer's in-place) parameters.
template <class T>
struct DropoutCfg {
  float p = 0;                       // probability of dropping a unit
  T keep = T(1);                     // kept units are multiplied by this while training
  T test_scale = T(1);               // and all units by this at test time
  unsigned long long seed = 0;
  unsigned long long base = 0;       // element offset of this layer's draws
};

// Sum over a block (blockDim.x a power of two <= 1024) in a fixed tree order; every thread gets it.
template <class T>
__device__ inline T block_sum(T v, T* sh) {
  const int t = threadIdx.x;
  sh[t] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (t < s) sh[t] += sh[t + s];
    __syncthreads();
  }
  const T r = sh[0];
  __syncthreads();
  return r;
}

template <class T>
__device__ inline T block_max(T v, T* sh) {
  const int t = threadIdx.x;
  sh[t] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (t < s && sh[t + s] > sh[t]) sh[t] = sh[t + s];
    __syncthreads();
  }
  const T r = sh[0];
  __syncthreads();
  return r;
}

// Sum over a warp in a fixed butterfly order; lane 0's result is the warp's.
template <class T>
__device__ inline T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;
}

constexpr int kThreads = 256;
inline unsigned blocks_for(size_t n, int threads = kThreads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

// A conv layer's shape (conv.h's Geometry, plus its output size).
struct ConvGeom {
  int c, h, w, f, k, s, p, oh, ow;
  __host__ __device__ int in_size() const { return c * h * w; }
  __host__ __device__ int out_size() const { return f * oh * ow; }
  __host__ __device__ int patch() const { return c * k * k; }
};

// A P x P pool of stride P on (c, h, w).
struct PoolGeom {
  int c, h, w, p, oh, ow;
  bool is_max;
  __host__ __device__ int in_size() const { return c * h * w; }
  __host__ __device__ int out_size() const { return c * oh * ow; }
};

// Where each weight layer's W and b start in the flat parameter buffer (params() layout).
constexpr int kMaxWeightLayers = 64;
struct LayerBounds {
  int layers = 0;
  unsigned long long w0[kMaxWeightLayers], b0[kMaxWeightLayers], b1[kMaxWeightLayers];
};

}  // namespace nnet::cuda
