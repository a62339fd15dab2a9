// Hand-written float kernels for the small shapes SGD on MNIST lives on (a 784x30 layer times a
// batch of 10). General BLAS-style gemm packs its operands first, which for these shapes costs as
// much as the arithmetic; these kernels read the weights in place (column-major, as stored) and the
// input columns through a pointer table, so a mini-batch is never gathered into a copy.
// Internal to the library: network.cc dispatches here when the build has AVX-512.
#pragma once

#include <cstddef>

#include "nnet/network.h"

namespace nnet::kernels {

// True when this build has the vector kernels (compiled with AVX-512F); otherwise callers use the
// portable Eigen path.
bool available();

// Z = W X + b and A = act(Z), for X given as m column pointers (each of length c).
// W is (r, c) column-major; Z and A are (r, m) with leading dimension ldz. Sigmoid, ReLU and linear
// are applied in registers; any other activation is left for the caller (A is not written).
// Returns whether A was written.
bool dense_forward(const float* W, const float* b, int r, int c, const float* const* x, int m,
                   Activation act, float* Z, float* A, int ldz);

// The per-element SGD rule, applied while the gradient G = D X^T (r, c) is formed, one column of
// W at a time, so no gradient buffer exists:
//   momentum: v <- mu v - step g;  w <- decay w + v - l1 sgn(w)
//   otherwise:                     w <- decay w - step g - l1 sgn(w)
// (decay = 1 and l1 = 0 reduce it to w <- w - step g). Biases: v <- mu v - step g, b <- b + v; or
// b <- b - step g.
struct UpdateRule {
  float step = 0;  // eta / m
  float decay = 1;
  float l1 = 0;
  float mu = 0;  // momentum; velocity buffers are used only when mu > 0
};

// W (r, c) and b (r) updated by the rule with G = D X^T and g_b = D 1, D (r, m) with leading
// dimension ldd, X as m column pointers. vw (r, c) and vb (r) are the velocity (null without
// momentum).
void dense_update(float* W, float* b, int r, int c, const float* D, int ldd, const float* const* x,
                  int m, const UpdateRule& rule, float* vw, float* vb);

}  // namespace nnet::kernels
