// fc and softmax layers: z = W x + b with W (N, K) column-major, a = act(z). At the batch sizes SGD
// runs (10 to 64) one thread per output keeps the whole layer in one launch; evaluation's large
// batches take cuBLAS's GEMM first (device_net.cu) and only the bias and activation here.
#include "kernels.cuh"

namespace nnet::cuda {

namespace {

// sum_k W[r + N k] x[k], four independent partial sums (fixed order) for instruction-level
// parallelism.
template <class T>
__device__ inline T dot_column(const T* W, int N, int K, int r, const T* x) {
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

template <class T>
__global__ void fc_forward_kernel(const T* W, const T* b, int N, int K, const T* X, int ldx, int m,
                                  int act, T* z, T* a, DropoutCfg<T> drop, T* mask,
                                  const StepState* st) {
  if (halted(st)) return;
  const size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;  // r + N j
  if (idx >= static_cast<size_t>(N) * m) return;
  const int r = static_cast<int>(idx % N), j = static_cast<int>(idx / N);
  const T zz = dot_column(W, N, K, r, X + static_cast<size_t>(ldx) * j) + b[r];
  T aa = activate(act, zz);
  if (drop.p > 0) {
    const T keep = dropout_uniform(drop.seed, st->step, drop.base + idx) <= drop.p ? T(0) : drop.keep;
    mask[idx] = keep;
    aa *= keep;
  }
  z[idx] = zz;
  a[idx] = aa;
}

template <class T>
__global__ void bias_activate_kernel(const T* b, int N, int m, int act, T* z, T* a,
                                     const StepState* st) {
  if (halted(st)) return;
  const size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (idx >= static_cast<size_t>(N) * m) return;
  const T zz = z[idx] + b[idx % N];
  z[idx] = zz;
  a[idx] = activate(act, zz);
}

// One block per sample: each thread computes outputs r = t, t + blockDim, ...; then the column's
// max and sum in a fixed tree order.
template <class T>
__global__ void softmax_forward_kernel(const T* W, const T* b, int N, int K, const T* X, int ldx,
                                       int m, bool have_z, T* z, T* a, const StepState* st) {
  if (halted(st)) return;
  extern __shared__ unsigned char smem[];
  T* sh = reinterpret_cast<T*>(smem);
  const int j = blockIdx.x;
  T* zj = z + static_cast<size_t>(N) * j;
  T* aj = a + static_cast<size_t>(N) * j;
  T mx = -INFINITY;
  for (int r = threadIdx.x; r < N; r += blockDim.x) {
    const T v = have_z ? zj[r] + b[r] : dot_column(W, N, K, r, X + static_cast<size_t>(ldx) * j) + b[r];
    zj[r] = v;
    mx = v > mx ? v : mx;
  }
  mx = block_max(mx, sh);
  T sum = 0;
  for (int r = threadIdx.x; r < N; r += blockDim.x) {
    const T e = exp(zj[r] - mx);
    aj[r] = e;
    sum += e;
  }
  sum = block_sum(sum, sh);
  for (int r = threadIdx.x; r < N; r += blockDim.x) aj[r] /= sum;
}

// Thread per gradient element: (r, k) of W for idx < N K, then r of b.
template <class T>
__global__ void fc_grad_kernel(const T* d, int N, int K, const T* X, int ldx, int m, T* gW, T* gb,
                               const StepState* st) {
  if (halted(st)) return;
  const size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  const size_t nw = static_cast<size_t>(N) * K;
  if (idx < nw) {
    const int r = static_cast<int>(idx % N), k = static_cast<int>(idx / N);
    T s = 0;
    for (int j = 0; j < m; ++j) s += d[r + static_cast<size_t>(N) * j] * X[k + static_cast<size_t>(ldx) * j];
    gW[idx] = s;
  } else if (idx < nw + N) {
    const int r = static_cast<int>(idx - nw);
    T s = 0;
    for (int j = 0; j < m; ++j) s += d[r + static_cast<size_t>(N) * j];
    gb[r] = s;
  }
}

// Thread per input element (k, j): sum_r W[r + N k] d[r + N j], through the epilogue.
template <class T>
__global__ void fc_backward_input_kernel(const T* W, int N, int K, const T* d, int m, T* dX,
                                         Epilogue<T> ep, const StepState* st) {
  if (halted(st)) return;
  const size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;  // k + K j
  if (idx >= static_cast<size_t>(K) * m) return;
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

}  // namespace

template <class T>
void fc_forward(cudaStream_t s, const T* W, const T* b, int N, int K, const T* X, int ldx, int m,
                int act, T* z, T* a, const DropoutCfg<T>& drop, T* mask, const StepState* st) {
  const size_t n = static_cast<size_t>(N) * m;
  fc_forward_kernel<<<blocks_for(n), kThreads, 0, s>>>(W, b, N, K, X, ldx, m, act, z, a, drop, mask,
                                                       st);
  NNET_CUDA_LAUNCHED();
}

template <class T>
void bias_activate(cudaStream_t s, const T* b, int N, int m, int act, T* z, T* a,
                   const StepState* st) {
  const size_t n = static_cast<size_t>(N) * m;
  bias_activate_kernel<<<blocks_for(n), kThreads, 0, s>>>(b, N, m, act, z, a, st);
  NNET_CUDA_LAUNCHED();
}

template <class T>
void softmax_forward(cudaStream_t s, const T* W, const T* b, int N, int K, const T* X, int ldx,
                     int m, bool have_z, T* z, T* a, const StepState* st) {
  int threads = 32;
  while (threads < N && threads < 1024) threads *= 2;
  softmax_forward_kernel<<<m, threads, threads * sizeof(T), s>>>(W, b, N, K, X, ldx, m, have_z, z, a,
                                                                 st);
  NNET_CUDA_LAUNCHED();
}

template <class T>
void fc_grad(cudaStream_t s, const T* d, int N, int K, const T* X, int ldx, int m, T* gW, T* gb,
             const StepState* st) {
  const size_t n = static_cast<size_t>(N) * K + N;
  fc_grad_kernel<<<blocks_for(n), kThreads, 0, s>>>(d, N, K, X, ldx, m, gW, gb, st);
  NNET_CUDA_LAUNCHED();
}

template <class T>
void fc_backward_input(cudaStream_t s, const T* W, int N, int K, const T* d, int m, T* dX,
                       const Epilogue<T>& ep, const StepState* st) {
  const size_t n = static_cast<size_t>(K) * m;
  fc_backward_input_kernel<<<blocks_for(n), kThreads, 0, s>>>(W, N, K, d, m, dX, ep, st);
  NNET_CUDA_LAUNCHED();
}

#define NNET_FC_INSTANTIATE(T)                                                                  \
  template void fc_forward<T>(cudaStream_t, const T*, const T*, int, int, const T*, int, int,  \
                              int, T*, T*, const DropoutCfg<T>&, T*, const StepState*);        \
  template void bias_activate<T>(cudaStream_t, const T*, int, int, int, T*, T*,                \
                                 const StepState*);                                            \
  template void softmax_forward<T>(cudaStream_t, const T*, const T*, int, int, const T*, int,  \
                                   int, bool, T*, T*, const StepState*);                       \
  template void fc_grad<T>(cudaStream_t, const T*, int, int, const T*, int, int, T*, T*,       \
                           const StepState*);                                                  \
  template void fc_backward_input<T>(cudaStream_t, const T*, int, int, const T*, int, T*,      \
                                     const Epilogue<T>&, const StepState*);
NNET_FC_INSTANTIATE(float)
NNET_FC_INSTANTIATE(double)

}  // namespace nnet::cuda
