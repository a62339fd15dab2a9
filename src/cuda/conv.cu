// conv layers, cross-correlation as src/conv.h defines it: out(f, y, x) = b(f) + sum_{c, ky, kx}
// W(f, (c*k + ky)*k + kx) in(c, y*s + ky - p, x*s + kx - p), zeros outside the input. Direct
// loops, one thread per output (forward, input gradient) or one warp per weight (its gradient sums
// over every position of every sample: lanes take fixed strides, then a fixed butterfly).
#include "kernels.cuh"

namespace nnet::cuda {

namespace {

template <class T>
__global__ void conv_forward_kernel(ConvGeom g, const T* W, const T* b, const T* X, int ldx, int m,
                                    int act, T* z, T* a, const StepState* st) {
  if (halted(st)) return;
  const size_t out_size = g.out_size();
  const size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (idx >= out_size * m) return;
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

// Warp w < F * patch: the weight (f, q); w < F * patch + F: the bias of filter w - F * patch.
template <class T>
__global__ void conv_grad_kernel(ConvGeom g, const T* d, const T* X, int ldx, int m, T* gW, T* gb,
                                 const StepState* st) {
  if (halted(st)) return;
  const size_t warp = (blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  const int patch = g.patch(), positions = g.oh * g.ow;
  const size_t nw = static_cast<size_t>(g.f) * patch;
  if (warp >= nw + g.f) return;
  const size_t terms = static_cast<size_t>(positions) * m;
  const size_t out_size = g.out_size();
  T s = 0;
  if (warp < nw) {
    const int f = static_cast<int>(warp % g.f), q = static_cast<int>(warp / g.f);
    const int c = q / (g.k * g.k), ky = (q / g.k) % g.k, kx = q % g.k;
    for (size_t t = lane; t < terms; t += 32) {
      const int j = static_cast<int>(t / positions), pos = static_cast<int>(t % positions);
      const int oy = pos / g.ow, ox = pos % g.ow;
      const int iy = oy * g.s + ky - g.p, ix = ox * g.s + kx - g.p;
      if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
      s += d[static_cast<size_t>(f) * positions + pos + out_size * j] *
           X[(c * g.h + iy) * g.w + ix + static_cast<size_t>(ldx) * j];
    }
    s = warp_sum(s);
    if (lane == 0) gW[warp] = s;
  } else {
    const int f = static_cast<int>(warp - nw);
    for (size_t t = lane; t < terms; t += 32) {
      const int j = static_cast<int>(t / positions), pos = static_cast<int>(t % positions);
      s += d[static_cast<size_t>(f) * positions + pos + out_size * j];
    }
    s = warp_sum(s);
    if (lane == 0) gb[f] = s;
  }
}

// Thread per input element (c, iy, ix) of sample j: every output whose window covers it.
template <class T>
__global__ void conv_backward_input_kernel(ConvGeom g, const T* W, const T* d, int m, T* dX,
                                           Epilogue<T> ep, const StepState* st) {
  if (halted(st)) return;
  const size_t in_size = g.in_size(), out_size = g.out_size();
  const size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (idx >= in_size * m) return;
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

}  // namespace

template <class T>
void conv_forward(cudaStream_t s, const ConvGeom& g, const T* W, const T* b, const T* X, int ldx,
                  int m, int act, T* z, T* a, const StepState* st) {
  const size_t n = static_cast<size_t>(g.out_size()) * m;
  conv_forward_kernel<<<blocks_for(n), kThreads, 0, s>>>(g, W, b, X, ldx, m, act, z, a, st);
  NNET_CUDA_LAUNCHED();
}

template <class T>
void conv_grad(cudaStream_t s, const ConvGeom& g, const T* d, const T* X, int ldx, int m, T* gW,
               T* gb, const StepState* st) {
  const size_t warps = static_cast<size_t>(g.f) * g.patch() + g.f;
  conv_grad_kernel<<<blocks_for(warps * 32), kThreads, 0, s>>>(g, d, X, ldx, m, gW, gb, st);
  NNET_CUDA_LAUNCHED();
}

template <class T>
void conv_backward_input(cudaStream_t s, const ConvGeom& g, const T* W, const T* d, int m, T* dX,
                         const Epilogue<T>& ep, const StepState* st) {
  const size_t n = static_cast<size_t>(g.in_size()) * m;
  conv_backward_input_kernel<<<blocks_for(n), kThreads, 0, s>>>(g, W, d, m, dX, ep, st);
  NNET_CUDA_LAUNCHED();
}

#define NNET_CONV_INSTANTIATE(T)                                                                \
  template void conv_forward<T>(cudaStream_t, const ConvGeom&, const T*, const T*, const T*,   \
                                int, int, int, T*, T*, const StepState*);                      \
  template void conv_grad<T>(cudaStream_t, const ConvGeom&, const T*, const T*, int, int, T*,  \
                             T*, const StepState*);                                            \
  template void conv_backward_input<T>(cudaStream_t, const ConvGeom&, const T*, const T*, int, \
                                       T*, const Epilogue<T>&, const StepState*);
NNET_CONV_INSTANTIATE(float)
NNET_CONV_INSTANTIATE(double)

}  // namespace nnet::cuda
