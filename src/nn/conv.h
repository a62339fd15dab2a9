// Convolution kernels for conv layers (internal to the library). The network code (network.cc)
// calls these; the naive versions are the oracle the fast ones are tested against.
//
// Cross-correlation, as PyTorch and most texts define "convolution": out(f, y, x) =
// b(f) + sum_{c, ky, kx} W(f, c, ky, kx) * in(c, y*stride + ky - pad, x*stride + kx - pad), with
// zeros outside the input. (network3's theano conv2d flips the kernel: see docs/layers.md.)
//
// Layouts: one sample per column, channel-major within a column, index (c*h + y)*w + x.
//   X  (in_size, m)  with leading dimension ldx >= in_size
//   Z  (out_size, m) with leading dimension ldz >= out_size
//   W  (filters, patch) column-major, column index (c*k + ky)*k + kx;  b (filters)
// `threads` (0 = all cores, one for a call under ~1 MFLOP) never changes a result: work is split in fixed sample chunks and
// partial sums are added in a fixed order.
#pragma once

#include <cstddef>
#include <functional>

namespace nnet::conv {

struct Geometry {
  int c = 1, h = 1, w = 1;  // input channels, height, width
  int filters = 1, k = 1;   // F filters of k x k
  int stride = 1, pad = 0;
  int out_h() const { return (h + 2 * pad - k) / stride + 1; }
  int out_w() const { return (w + 2 * pad - k) / stride + 1; }
  int in_size() const { return c * h * w; }
  int out_size() const { return filters * out_h() * out_w(); }
  int patch() const { return c * k * k; }
};

// Z = W (*) X + b for m samples.
template <class T>
void forward(const Geometry& g, const T* W, const T* b, const T* X, int ldx, int m, T* Z, int ldz,
             int threads = 1);

// dX = the gradient with respect to the input of m samples given dZ; overwrites dX.
template <class T>
void backward_input(const Geometry& g, const T* W, const T* dZ, int ldz, int m, T* dX, int ldx,
                    int threads = 1);

// dW += sum over the m samples of dC/dW, db += sum of dC/db (accumulates, like backward()).
template <class T>
void backward_params(const Geometry& g, const T* X, int ldx, const T* dZ, int ldz, int m, T* dW,
                     T* db, int threads = 1);

// 2 x 2 max pooling of one sample x (c, h, w), h and w even, into a (c, h/2, w/2), and win (the
// same shape): the input index of each maximum, the first in row-major window order among equal
// ones (a NaN first element wins). False, touching nothing, where the build has no vector version.
bool maxpool2(const float* x, int c, int h, int w, float* a, int* win);

// fn(0..tasks-1) on up to `threads` threads of the pool the kernels use (0 = all cores; one
// for less than ~32k elements of work, `elements`): for the per-sample passes between the
// kernels (pooling, activations), whose results never depend on how samples are split.
void parallel_for(int tasks, int threads, size_t elements, const std::function<void(int)>& fn);

// Direct loops over the definition above: slow, obviously right; the tests' reference.
template <class T>
void forward_naive(const Geometry& g, const T* W, const T* b, const T* X, int ldx, int m, T* Z,
                   int ldz);
template <class T>
void backward_input_naive(const Geometry& g, const T* W, const T* dZ, int ldz, int m, T* dX,
                          int ldx);
template <class T>
void backward_params_naive(const Geometry& g, const T* X, int ldx, const T* dZ, int ldz, int m,
                           T* dW, T* db);

}  // namespace nnet::conv
