// The SGD update (network.h's SgdRule, as apply_update applies it), the per-layer gradient norms
// of --record-gradients, and the finiteness check; all over the flat parameter buffer, llm.c style.
#include "kernels.cuh"

namespace nnet::cuda {

namespace {

template <class T>
__global__ void sgd_update_kernel(T* p, const T* g, T* v, size_t n, LayerBounds lb, int m,
                                  StepState* st) {
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  // Read everything before block 0 advances the step (the kernels of the next step read it).
  const bool stop = halted(st);
  const double eta = st->eta, rdecay = st->decay, rl1 = st->l1, rmu = st->mu;
  __syncthreads();
  if (blockIdx.x == 0 && threadIdx.x == 0) st->step += 1;
  if (stop || i >= n) return;
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

// Block k of 2L: layer k % L, its biases (k < L) or weights; squares summed in double in a fixed
// order.
template <class T>
__global__ void grad_norms_kernel(const T* g, LayerBounds lb, int m, double* out,
                                  const StepState* st) {
  if (halted(st)) return;
  __shared__ double sh[kThreads];
  const int L = lb.layers, l = blockIdx.x % L;
  const bool bias = static_cast<int>(blockIdx.x) < L;
  const size_t begin = bias ? lb.b0[l] : lb.w0[l], end = bias ? lb.b1[l] : lb.b0[l];
  double s = 0;
  for (size_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const double x = g[i];
    s += x * x;
  }
  s = block_sum(s, sh);
  const long long b = st->step - st->epoch_first;
  if (threadIdx.x == 0) out[static_cast<size_t>(b) * 2 * L + blockIdx.x] = sqrt(s) / m;
}

template <class T>
__global__ void check_finite_kernel(const T* p, size_t n, int* flag) {
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (i < n && !isfinite(p[i])) *flag = 1;  // every writer writes 1: the same result always
}

}  // namespace

template <class T>
void sgd_update(cudaStream_t s, T* p, const T* g, T* v, size_t n, const LayerBounds& lb, int m,
                StepState* st) {
  sgd_update_kernel<<<blocks_for(n), kThreads, 0, s>>>(p, g, v, n, lb, m, st);
  NNET_CUDA_LAUNCHED();
}

template <class T>
void grad_norms(cudaStream_t s, const T* g, const LayerBounds& lb, int m, double* out,
                const StepState* st) {
  grad_norms_kernel<<<2 * lb.layers, kThreads, 0, s>>>(g, lb, m, out, st);
  NNET_CUDA_LAUNCHED();
}

template <class T>
void check_finite(cudaStream_t s, const T* p, size_t n, int* flag) {
  check_finite_kernel<<<blocks_for(n), kThreads, 0, s>>>(p, n, flag);
  NNET_CUDA_LAUNCHED();
}

#define NNET_UPDATE_INSTANTIATE(T)                                                              \
  template void sgd_update<T>(cudaStream_t, T*, const T*, T*, size_t, const LayerBounds&, int, \
                              StepState*);                                                     \
  template void grad_norms<T>(cudaStream_t, const T*, const LayerBounds&, int, double*,        \
                              const StepState*);                                               \
  template void check_finite<T>(cudaStream_t, const T*, size_t, int*);
NNET_UPDATE_INSTANTIATE(float)
NNET_UPDATE_INSTANTIATE(double)

}  // namespace nnet::cuda
