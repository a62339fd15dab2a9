// The AVX-512 implementation of conv.h's float kernels (conv_avx512.cc): how the CPU backend runs
// conv layers where the build targets AVX-512. Elsewhere available() is false and conv.cc's
// portable Eigen path runs; each path keeps the numbers it has always given.
#pragma once

#include "nn/conv.h"

namespace nnet::conv::avx512 {

// Whether this build has these kernels; the others may be called only when it does.
bool available();

// conv.h's forward, backward_input and backward_params for float, `threads` already resolved.
void forward(const Geometry& g, const float* W, const float* b, const float* X, int ldx, int m,
             float* Z, int ldz, int threads);
void backward_input(const Geometry& g, const float* W, const float* dZ, int ldz, int m, float* dX,
                    int ldx, int threads);
void backward_params(const Geometry& g, const float* X, int ldx, const float* dZ, int ldz, int m,
                     float* dW, float* db, int threads);

// conv.h's maxpool2: false (nothing written) without AVX-512.
bool maxpool2(const float* x, int c, int h, int w, float* a, int* win);

}  // namespace nnet::conv::avx512
