// Dropout layers: while training each input unit is kept (times cfg.keep: 1 for network3's
// dropout, 1/(1-p) inverted) unless its draw falls at or below p; at test time every unit is
// multiplied by cfg.test_scale (1-p for network3's, 1 inverted).
#include "kernels.cuh"

namespace nnet::cuda {

namespace {

template <class T>
__global__ void dropout_forward_kernel(int n, const T* X, int ldx, int m, bool training,
                                       DropoutCfg<T> cfg, T* mask, T* a, const StepState* st) {
  if (halted(st)) return;
  const size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;  // u + n j
  if (idx >= static_cast<size_t>(n) * m) return;
  const int u = static_cast<int>(idx % n), j = static_cast<int>(idx / n);
  const T x = X[u + static_cast<size_t>(ldx) * j];
  if (!training) {
    a[idx] = x * cfg.test_scale;
    return;
  }
  const T keep = dropout_uniform(cfg.seed, st->step, cfg.base + idx) <= cfg.p ? T(0) : cfg.keep;
  mask[idx] = keep;
  a[idx] = x * keep;
}

template <class T>
__global__ void dropout_backward_kernel(int n, const T* d, const T* mask, int m, bool training,
                                        T test_scale, T* dX, Epilogue<T> ep, const StepState* st) {
  if (halted(st)) return;
  const size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (idx >= static_cast<size_t>(n) * m) return;
  dX[idx] = ep(d[idx] * (training ? mask[idx] : test_scale), idx);
}

}  // namespace

template <class T>
void dropout_forward(cudaStream_t s, int n, const T* X, int ldx, int m, bool training,
                     const DropoutCfg<T>& cfg, T* mask, T* a, const StepState* st) {
  const size_t total = static_cast<size_t>(n) * m;
  dropout_forward_kernel<<<blocks_for(total), kThreads, 0, s>>>(n, X, ldx, m, training, cfg, mask,
                                                                a, st);
  NNET_CUDA_LAUNCHED();
}

template <class T>
void dropout_backward(cudaStream_t s, int n, const T* d, const T* mask, int m, bool training,
                      T test_scale, T* dX, const Epilogue<T>& ep, const StepState* st) {
  const size_t total = static_cast<size_t>(n) * m;
  dropout_backward_kernel<<<blocks_for(total), kThreads, 0, s>>>(n, d, mask, m, training,
                                                                 test_scale, dX, ep, st);
  NNET_CUDA_LAUNCHED();
}

#define NNET_DROPOUT_INSTANTIATE(T)                                                             \
  template void dropout_forward<T>(cudaStream_t, int, const T*, int, int, bool,                \
                                   const DropoutCfg<T>&, T*, T*, const StepState*);            \
  template void dropout_backward<T>(cudaStream_t, int, const T*, const T*, int, bool, T, T*,   \
                                    const Epilogue<T>&, const StepState*);
NNET_DROPOUT_INSTANTIATE(float)
NNET_DROPOUT_INSTANTIATE(double)

}  // namespace nnet::cuda
