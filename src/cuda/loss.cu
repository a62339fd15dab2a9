// Data in, errors out: the mini-batch gather, the output error, the per-sample scores evaluation
// needs, and the health probe's evidence (health.h's tally_batch, computed where the activations
// are). Costs are in double, as sample_cost() computes them.
#include "kernels.cuh"

namespace nnet::cuda {

namespace {

// sample_cost() (network.h): quadratic 0.5 |a - y|^2; cross-entropy sum -y ln a - (1-y) ln(1-a)
// with the log's argument clamped at 1e-300; log-likelihood -ln a_y.
template <class T>
__device__ double cost_of(int cost, const T* a, int n, int label) {
  double c = 0;
  switch (cost) {
    case kQuadratic:
      for (int i = 0; i < n; ++i) {
        const double diff = static_cast<double>(a[i]) - (i == label ? 1.0 : 0.0);
        c += diff * diff;
      }
      return 0.5 * c;
    case kCrossEntropy:
      for (int i = 0; i < n; ++i) {
        const double ai = a[i];
        c += i == label ? -log(fmax(ai, 1e-300)) : -log(fmax(1.0 - ai, 1e-300));
      }
      return c;
    default:
      return -log(fmax(static_cast<double>(a[label]), 1e-300));
  }
}

template <class T>
__device__ int first_max(const T* a, int n) {
  int arg = 0;
  for (int k = 1; k < n; ++k)
    if (a[k] > a[arg]) arg = k;
  return arg;
}

template <class T>
__global__ void gather_kernel(const float* images, const uint8_t* labels, int pixels,
                              const uint32_t* order, int batch_size, int m, T* x, uint8_t* y,
                              const StepState* st) {
  if (halted(st)) return;
  const size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (idx >= static_cast<size_t>(pixels) * m) return;
  const int p = static_cast<int>(idx % pixels), j = static_cast<int>(idx / pixels);
  const size_t begin = static_cast<size_t>(st->step - st->epoch_first) * batch_size;
  const uint32_t image = order[begin + j];
  x[idx] = static_cast<T>(images[static_cast<size_t>(image) * pixels + p]);
  if (p == 0) y[j] = labels[image];
}

template <class T>
__global__ void output_error_kernel(const T* z, const T* a, const uint8_t* y, int n, int m, int act,
                                    int cost, T* d, StepState* st) {
  if (halted(st)) return;
  const size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (idx >= static_cast<size_t>(n) * m) return;
  const int r = static_cast<int>(idx % n), j = static_cast<int>(idx / n);
  T v = a[idx] - (r == y[j] ? T(1) : T(0));
  // Cross-entropy with sigmoid and log-likelihood with softmax give exactly a - y.
  if (cost == kQuadratic) v *= derivative(act, z[idx], a[idx]);
  d[idx] = v;
  if (!isfinite(v)) atomicMin(&st->bad_step, st->step);  // integer atomic: the same winner always
}

template <class T>
__global__ void score_kernel(const T* a, int n, const uint8_t* y, int m, int cost,
                             uint8_t* argmax, double* cost_out) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= m) return;
  const T* aj = a + static_cast<size_t>(n) * j;
  argmax[j] = static_cast<uint8_t>(first_max(aj, n));
  cost_out[j] = cost_of(cost, aj, n, y[j]);
}

template <class T>
__global__ void probe_samples_kernel(const T* a, int n, const uint8_t* y, int m, int cost,
                                     bool sigmoid_out, int stride, uint8_t* argmax,
                                     double* cost_out, int* pinned, const StepState* st) {
  if (halted(st)) return;
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= m) return;
  const size_t at = static_cast<size_t>(st->probe_count) * stride + j;
  const T* aj = a + static_cast<size_t>(n) * j;
  argmax[at] = static_cast<uint8_t>(first_max(aj, n));
  cost_out[at] = cost_of(cost, aj, n, y[j]);
  int p = 0;
  if (sigmoid_out)
    for (int k = 0; k < n; ++k) p += k == y[j] ? aj[k] < T(0.01f) : aj[k] > T(0.99f);
  pinned[at] = p;
}

template <class T>
__global__ void probe_units_kernel(const T* a, int units, int m, int act, float lo, float hi,
                                   uint8_t* active, int* sat, const StepState* st) {
  if (halted(st)) return;
  const int u = blockIdx.x * blockDim.x + threadIdx.x;
  if (u >= units) return;
  if (act == kRelu) {
    uint8_t on = active[u];
    for (int j = 0; j < m; ++j) on |= a[u + static_cast<size_t>(units) * j] > T(0);
    active[u] = on;
  } else {
    int count = sat[u];
    for (int j = 0; j < m; ++j) {
      const float v = static_cast<float>(a[u + static_cast<size_t>(units) * j]);
      count += static_cast<int>(v < lo) + static_cast<int>(v > hi);
    }
    sat[u] = count;
  }
}

// One block: g_r = sum over samples and positions of dC/dz (double), then |g| / m.
template <class T>
__global__ void probe_bias_norm_kernel(const T* d, int units, int rows, int m, int l, int L,
                                       double* out, const StepState* st) {
  if (halted(st)) return;
  __shared__ double sh[kThreads];
  const int per = units / rows;
  double sq = 0;
  for (int r = threadIdx.x; r < rows; r += blockDim.x) {
    double g = 0;
    for (int j = 0; j < m; ++j)
      for (int q = 0; q < per; ++q) g += d[static_cast<size_t>(r) * per + q + static_cast<size_t>(units) * j];
    sq += g * g;
  }
  sq = block_sum(sq, sh);
  if (threadIdx.x == 0) out[static_cast<size_t>(st->probe_count) * L + l] = sqrt(sq) / m;
}

__global__ void probe_advance_kernel(StepState* st) {
  if (halted(st)) return;
  st->probe_count += 1;
}

}  // namespace

template <class T>
void gather(cudaStream_t s, const float* images, const uint8_t* labels, int pixels,
            const uint32_t* order, int batch_size, int m, T* x, uint8_t* y, const StepState* st) {
  const size_t n = static_cast<size_t>(pixels) * m;
  gather_kernel<<<blocks_for(n), kThreads, 0, s>>>(images, labels, pixels, order, batch_size, m, x,
                                                   y, st);
  NNET_CUDA_LAUNCHED();
}

template <class T>
void output_error(cudaStream_t s, const T* z, const T* a, const uint8_t* y, int n, int m, int act,
                  int cost, T* d, StepState* st) {
  const size_t total = static_cast<size_t>(n) * m;
  output_error_kernel<<<blocks_for(total), kThreads, 0, s>>>(z, a, y, n, m, act, cost, d, st);
  NNET_CUDA_LAUNCHED();
}

template <class T>
void score(cudaStream_t s, const T* a, int n, const uint8_t* y, int m, int cost, uint8_t* argmax,
           double* cost_out) {
  score_kernel<<<blocks_for(m, 128), 128, 0, s>>>(a, n, y, m, cost, argmax, cost_out);
  NNET_CUDA_LAUNCHED();
}

template <class T>
void probe_samples(cudaStream_t s, const T* a, int n, const uint8_t* y, int m, int cost,
                   bool sigmoid_out, int stride, uint8_t* argmax, double* cost_out, int* pinned,
                   const StepState* st) {
  probe_samples_kernel<<<blocks_for(m, 128), 128, 0, s>>>(a, n, y, m, cost, sigmoid_out, stride,
                                                          argmax, cost_out, pinned, st);
  NNET_CUDA_LAUNCHED();
}

template <class T>
void probe_units(cudaStream_t s, const T* a, int units, int m, int act, float lo, float hi,
                 uint8_t* active, int* sat, const StepState* st) {
  probe_units_kernel<<<blocks_for(units), kThreads, 0, s>>>(a, units, m, act, lo, hi, active, sat,
                                                            st);
  NNET_CUDA_LAUNCHED();
}

template <class T>
void probe_bias_norm(cudaStream_t s, const T* d, int units, int rows, int m, int l, int L,
                     double* out, const StepState* st) {
  probe_bias_norm_kernel<<<1, kThreads, 0, s>>>(d, units, rows, m, l, L, out, st);
  NNET_CUDA_LAUNCHED();
}

void probe_advance(cudaStream_t s, StepState* st) {
  probe_advance_kernel<<<1, 1, 0, s>>>(st);
  NNET_CUDA_LAUNCHED();
}

#define NNET_LOSS_INSTANTIATE(T)                                                                 \
  template void gather<T>(cudaStream_t, const float*, const uint8_t*, int, const uint32_t*, int, \
                          int, T*, uint8_t*, const StepState*);                                  \
  template void output_error<T>(cudaStream_t, const T*, const T*, const uint8_t*, int, int, int, \
                                int, T*, StepState*);                                            \
  template void score<T>(cudaStream_t, const T*, int, const uint8_t*, int, int, uint8_t*,        \
                         double*);                                                               \
  template void probe_samples<T>(cudaStream_t, const T*, int, const uint8_t*, int, int, bool,    \
                                 int, uint8_t*, double*, int*, const StepState*);                \
  template void probe_units<T>(cudaStream_t, const T*, int, int, int, float, float, uint8_t*,    \
                               int*, const StepState*);                                          \
  template void probe_bias_norm<T>(cudaStream_t, const T*, int, int, int, int, int, double*,     \
                                   const StepState*);
NNET_LOSS_INSTANTIATE(float)
NNET_LOSS_INSTANTIATE(double)

}  // namespace nnet::cuda
