// What the AVX-512 kernels (kernels.cc, conv.cc) share: the intrinsics, full unrolling and lane
// masks. Empty where the build does not target AVX-512.
#pragma once

#if defined(__AVX512F__)
// GCC 12's AVX-512 headers (also used by Eigen) trip -Wmaybe-uninitialized
// (_mm512_undefined_ps): a false alarm.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

// Full unrolling of the loops over a tile's extents keeps the accumulator arrays in registers
// (GCC otherwise spills them to the stack on every k step).
#define NNET_PRAGMA(x) _Pragma(#x)
#if defined(__clang__)
#define NNET_UNROLL NNET_PRAGMA(unroll)
#else
#define NNET_UNROLL NNET_PRAGMA(GCC unroll 32)
#endif

namespace nnet::avx512 {

// Lanes [0, n) of a 16-float vector (n may be <= 0 or > 16).
inline __mmask16 lanes(int n) {
  if (n <= 0) return 0;
  if (n >= 16) return 0xFFFF;
  return static_cast<__mmask16>((1u << n) - 1);
}

}  // namespace nnet::avx512
#endif
