// Max and average pooling, P x P windows of stride P (P divides h and w). Max pooling keeps each
// window's first maximum in row-major order (as the CPU and theano's max_pool_2d) and routes the
// gradient back to it; every input belongs to one window, so the backward pass is a gather.
#include "kernels.cuh"

namespace nnet::cuda {

namespace {

template <class T>
__global__ void pool_forward_kernel(PoolGeom g, const T* X, int ldx, int m, T* a, int* argmax,
                                    const StepState* st) {
  if (halted(st)) return;
  const size_t out_size = g.out_size();
  const size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (idx >= out_size * m) return;
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

template <class T>
__global__ void pool_backward_kernel(PoolGeom g, const T* d, const int* argmax, int m, T* dX,
                                     Epilogue<T> ep, const StepState* st) {
  if (halted(st)) return;
  const size_t in_size = g.in_size(), out_size = g.out_size();
  const size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (idx >= in_size * m) return;
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

}  // namespace

template <class T>
void pool_forward(cudaStream_t s, const PoolGeom& g, const T* X, int ldx, int m, T* a,
                  int* argmax, const StepState* st) {
  const size_t n = static_cast<size_t>(g.out_size()) * m;
  pool_forward_kernel<<<blocks_for(n), kThreads, 0, s>>>(g, X, ldx, m, a, argmax, st);
  NNET_CUDA_LAUNCHED();
}

template <class T>
void pool_backward(cudaStream_t s, const PoolGeom& g, const T* d, const int* argmax, int m, T* dX,
                   const Epilogue<T>& ep, const StepState* st) {
  const size_t n = static_cast<size_t>(g.in_size()) * m;
  pool_backward_kernel<<<blocks_for(n), kThreads, 0, s>>>(g, d, argmax, m, dX, ep, st);
  NNET_CUDA_LAUNCHED();
}

#define NNET_POOL_INSTANTIATE(T)                                                               \
  template void pool_forward<T>(cudaStream_t, const PoolGeom&, const T*, int, int, T*, int*,  \
                                const StepState*);                                            \
  template void pool_backward<T>(cudaStream_t, const PoolGeom&, const T*, const int*, int, T*, \
                                 const Epilogue<T>&, const StepState*);
NNET_POOL_INSTANTIATE(float)
NNET_POOL_INSTANTIATE(double)

}  // namespace nnet::cuda
