// The device side of common.h's Launch kinds: one __global__ kernel per kind, generic over the
// body, and launch(), which picks the grid from the body and enqueues it on a stream. The host
// runs the same bodies in plain loops (host_exec.h); the reductions here follow portable.h's
// fixed tree level by level, so the host's sums are the device's.
#pragma once

#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>

#include "common.h"

namespace nnet::cuda {

// Aborts on a CUDA runtime error: after device_status() said the device is usable, a failing call
// is a bug or a lost device, not a recoverable input error.
#define NNET_CUDA_CHECK(expr)                                                                 \
  do {                                                                                        \
    cudaError_t nnet_err_ = (expr);                                                           \
    if (nnet_err_ != cudaSuccess) {                                                           \
      std::fprintf(stderr, "nnet: CUDA error %s at %s:%d: %s\n", cudaGetErrorName(nnet_err_), \
                   __FILE__, __LINE__, cudaGetErrorString(nnet_err_));                        \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)
#define NNET_CUDA_LAUNCHED() NNET_CUDA_CHECK(cudaGetLastError())

template <class B>
__global__ void __launch_bounds__(B::kBlock) per_item_kernel(B b) {
  if (!b.active()) return;
  const size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (idx < b.items()) b(idx);
}

// kGroup == kWarp: groups are the warps of kThreads-thread blocks, summed by shuffles (lane t takes
// lane t + s at level s: tree_level's pairing). Otherwise a group is a block of kGroup threads,
// summed in shared memory level by level.
template <class B>
__global__ void per_group_kernel(B b) {
  using Acc = typename B::Acc;
  constexpr int G = B::kGroup;
  if (!b.active()) return;
  if constexpr (G == kWarp) {
    const size_t group = (blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x) / kWarp;
    const int lane = static_cast<int>(threadIdx.x % kWarp);
    if (group >= b.groups()) return;  // the whole warp alike
    Acc v = b.partial(group, lane);
    for (int s = kWarp / 2; s > 0; s >>= 1) v = SumOp()(v, __shfl_down_sync(0xffffffffu, v, s));
    if (lane == 0) b.finish(group, v);
  } else {
    __shared__ Acc sh[G];
    const int t = static_cast<int>(threadIdx.x);
    sh[t] = b.partial(blockIdx.x, t);
    __syncthreads();
    for (int s = G / 2; s > 0; s >>= 1) {
      tree_level(sh, s, t, SumOp());
      __syncthreads();
    }
    if (t == 0) b.finish(blockIdx.x, sh[0]);
  }
}

template <class B, class T>
__global__ void softmax_kernel(B b) {
  if (!b.active()) return;
  extern __shared__ __align__(16) unsigned char smem[];
  T* sh = reinterpret_cast<T*>(smem);
  const int j = static_cast<int>(blockIdx.x), t = static_cast<int>(threadIdx.x);
  const int n = static_cast<int>(blockDim.x);
  sh[t] = b.first(j, t, n);
  __syncthreads();
  for (int s = n / 2; s > 0; s >>= 1) {
    tree_level(sh, s, t, MaxOp());
    __syncthreads();
  }
  const T r1 = sh[0];
  __syncthreads();
  sh[t] = b.second(j, t, n, r1);
  __syncthreads();
  for (int s = n / 2; s > 0; s >>= 1) {
    tree_level(sh, s, t, SumOp());
    __syncthreads();
  }
  b.last(j, t, n, r1, sh[0]);
}

// Enqueues body b on stream s.
template <class B>
void launch(cudaStream_t s, const B& b) {
  if constexpr (B::kLaunch == Launch::kPerItem) {
    const size_t n = b.items();
    if (n == 0) return;
    per_item_kernel<B><<<blocks_for(n, B::kBlock), B::kBlock, 0, s>>>(b);
  } else if constexpr (B::kLaunch == Launch::kPerGroup) {
    const size_t groups = b.groups();
    if (groups == 0) return;
    if constexpr (B::kGroup == kWarp)
      per_group_kernel<B><<<blocks_for(groups * kWarp), kThreads, 0, s>>>(b);
    else
      per_group_kernel<B><<<static_cast<unsigned>(groups), B::kGroup, 0, s>>>(b);
  } else {
    using T = typename B::Value;
    if (b.blocks() == 0) return;
    const int threads = b.threads();
    softmax_kernel<B, T><<<b.blocks(), threads, threads * sizeof(T), s>>>(b);
  }
  NNET_CUDA_LAUNCHED();
}

}  // namespace nnet::cuda
