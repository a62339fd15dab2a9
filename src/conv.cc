// Convolution kernels: the naive oracle and the dispatching entry points (see conv.h).
#include "conv.h"

#include <algorithm>
#include <cstddef>

namespace nnet::conv {

template <class T>
void forward_naive(const Geometry& g, const T* W, const T* b, const T* X, int ldx, int m, T* Z,
                   int ldz) {
  const int oh = g.out_h(), ow = g.out_w(), F = g.filters, k = g.k;
  for (int j = 0; j < m; ++j) {
    const T* x = X + static_cast<size_t>(j) * ldx;  // (c, h, w)
    T* z = Z + static_cast<size_t>(j) * ldz;        // (F, oh, ow)
    for (int f = 0; f < F; ++f)
      for (int oy = 0; oy < oh; ++oy)
        for (int ox = 0; ox < ow; ++ox) {
          T s = b[f];
          for (int c = 0; c < g.c; ++c)
            for (int ky = 0; ky < k; ++ky) {
              const int iy = oy * g.stride + ky - g.pad;
              if (iy < 0 || iy >= g.h) continue;
              for (int kx = 0; kx < k; ++kx) {
                const int ix = ox * g.stride + kx - g.pad;
                if (ix < 0 || ix >= g.w) continue;
                s += W[f + static_cast<size_t>(F) * ((c * k + ky) * k + kx)] *
                     x[(c * g.h + iy) * g.w + ix];
              }
            }
          z[(f * oh + oy) * ow + ox] = s;
        }
  }
}

template <class T>
void backward_input_naive(const Geometry& g, const T* W, const T* dZ, int ldz, int m, T* dX,
                          int ldx) {
  const int oh = g.out_h(), ow = g.out_w(), F = g.filters, k = g.k;
  for (int j = 0; j < m; ++j) {
    const T* dz = dZ + static_cast<size_t>(j) * ldz;
    T* dx = dX + static_cast<size_t>(j) * ldx;
    std::fill(dx, dx + g.in_size(), T(0));
    for (int f = 0; f < F; ++f)
      for (int oy = 0; oy < oh; ++oy)
        for (int ox = 0; ox < ow; ++ox) {
          const T d = dz[(f * oh + oy) * ow + ox];
          for (int c = 0; c < g.c; ++c)
            for (int ky = 0; ky < k; ++ky) {
              const int iy = oy * g.stride + ky - g.pad;
              if (iy < 0 || iy >= g.h) continue;
              for (int kx = 0; kx < k; ++kx) {
                const int ix = ox * g.stride + kx - g.pad;
                if (ix < 0 || ix >= g.w) continue;
                dx[(c * g.h + iy) * g.w + ix] +=
                    W[f + static_cast<size_t>(F) * ((c * k + ky) * k + kx)] * d;
              }
            }
        }
  }
}

template <class T>
void backward_params_naive(const Geometry& g, const T* X, int ldx, const T* dZ, int ldz, int m,
                           T* dW, T* db) {
  const int oh = g.out_h(), ow = g.out_w(), F = g.filters, k = g.k;
  for (int j = 0; j < m; ++j) {
    const T* x = X + static_cast<size_t>(j) * ldx;
    const T* dz = dZ + static_cast<size_t>(j) * ldz;
    for (int f = 0; f < F; ++f)
      for (int oy = 0; oy < oh; ++oy)
        for (int ox = 0; ox < ow; ++ox) {
          const T d = dz[(f * oh + oy) * ow + ox];
          db[f] += d;
          for (int c = 0; c < g.c; ++c)
            for (int ky = 0; ky < k; ++ky) {
              const int iy = oy * g.stride + ky - g.pad;
              if (iy < 0 || iy >= g.h) continue;
              for (int kx = 0; kx < k; ++kx) {
                const int ix = ox * g.stride + kx - g.pad;
                if (ix < 0 || ix >= g.w) continue;
                dW[f + static_cast<size_t>(F) * ((c * k + ky) * k + kx)] +=
                    x[(c * g.h + iy) * g.w + ix] * d;
              }
            }
        }
  }
}

template <class T>
void forward(const Geometry& g, const T* W, const T* b, const T* X, int ldx, int m, T* Z, int ldz,
             int /*threads*/) {
  forward_naive(g, W, b, X, ldx, m, Z, ldz);
}

template <class T>
void backward_input(const Geometry& g, const T* W, const T* dZ, int ldz, int m, T* dX, int ldx,
                    int /*threads*/) {
  backward_input_naive(g, W, dZ, ldz, m, dX, ldx);
}

template <class T>
void backward_params(const Geometry& g, const T* X, int ldx, const T* dZ, int ldz, int m, T* dW,
                     T* db, int /*threads*/) {
  backward_params_naive(g, X, ldx, dZ, ldz, m, dW, db);
}

#define NNET_CONV_INSTANTIATE(T)                                                                   \
  template void forward<T>(const Geometry&, const T*, const T*, const T*, int, int, T*, int, int); \
  template void backward_input<T>(const Geometry&, const T*, const T*, int, int, T*, int, int);    \
  template void backward_params<T>(const Geometry&, const T*, int, const T*, int, int, T*, T*,     \
                                   int);                                                           \
  template void forward_naive<T>(const Geometry&, const T*, const T*, const T*, int, int, T*,      \
                                 int);                                                             \
  template void backward_input_naive<T>(const Geometry&, const T*, const T*, int, int, T*, int);   \
  template void backward_params_naive<T>(const Geometry&, const T*, int, const T*, int, int, T*,   \
                                         T*);
NNET_CONV_INSTANTIATE(float)
NNET_CONV_INSTANTIATE(double)
#undef NNET_CONV_INSTANTIATE

}  // namespace nnet::conv
