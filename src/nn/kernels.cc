#include "nn/kernels.h"

#include "nn/avx512.h"

#if defined(__AVX512F__)
#include <Eigen/Core>  // internal::pexp<Packet16f>: the same exp the Eigen path uses
#endif

namespace nnet::kernels {

#if defined(__AVX512F__)

namespace {

using avx512::lanes;

inline __m512 activate(Activation act, __m512 z) {
  switch (act) {
    case Activation::kSigmoid: {
      // 1 / (1 + exp(-z)), as Eigen's (1 + (-z).exp()).inverse() computes it.
      const __m512 one = _mm512_set1_ps(1.0f);
      const __m512 e = Eigen::internal::pexp<__m512>(_mm512_sub_ps(_mm512_setzero_ps(), z));
      return _mm512_div_ps(one, _mm512_add_ps(one, e));
    }
    case Activation::kRelu:
      return _mm512_max_ps(z, _mm512_setzero_ps());
    default:
      return z;
  }
}

// One tile of the forward product: rows [i0, i0 + 16*NV) (masked to `rows`) by NC columns.
// Accumulators stay in registers across the whole k loop; W's column k is contiguous.
template <int NV, int NC>
void forward_tile(const float* W, const float* b, int r, int c, const float* const* x, int i0,
                  int rows, Activation act, bool fuse, float* Z, float* A, int ldz) {
  __mmask16 mk[NV];
  NNET_UNROLL
  for (int v = 0; v < NV; ++v) mk[v] = lanes(rows - 16 * v);
  __m512 acc[NV][NC];
  NNET_UNROLL
  for (int v = 0; v < NV; ++v) NNET_UNROLL
  for (int n = 0; n < NC; ++n) acc[v][n] = _mm512_setzero_ps();
  const float* xp[NC];
  NNET_UNROLL
  for (int n = 0; n < NC; ++n) xp[n] = x[n];
  const float* w = W + i0;
  for (int k = 0; k < c; ++k, w += r) {
    __m512 wv[NV];
    NNET_UNROLL
    for (int v = 0; v < NV; ++v) wv[v] = _mm512_maskz_loadu_ps(mk[v], w + 16 * v);
    NNET_UNROLL
    for (int n = 0; n < NC; ++n) {
      const __m512 xb = _mm512_set1_ps(xp[n][k]);
      NNET_UNROLL
      for (int v = 0; v < NV; ++v) acc[v][n] = _mm512_fmadd_ps(wv[v], xb, acc[v][n]);
    }
  }
  NNET_UNROLL
  for (int v = 0; v < NV; ++v) {
    const __m512 bv = _mm512_maskz_loadu_ps(mk[v], b + i0 + 16 * v);
    NNET_UNROLL
    for (int n = 0; n < NC; ++n) {
      const __m512 z = _mm512_add_ps(acc[v][n], bv);
      const size_t off = static_cast<size_t>(n) * ldz + i0 + 16 * v;
      _mm512_mask_storeu_ps(Z + off, mk[v], z);
      if (fuse) _mm512_mask_storeu_ps(A + off, mk[v], activate(act, z));
    }
  }
}

template <int NV>
void forward_cols(const float* W, const float* b, int r, int c, const float* const* x, int m,
                  int i0, int rows, Activation act, bool fuse, float* Z, float* A, int ldz) {
  constexpr int kNC = NV == 2 ? 12 : 16;  // 24 or 16 accumulators of 32 registers
  int j = 0;
  for (; j + kNC <= m; j += kNC)
    forward_tile<NV, kNC>(W, b, r, c, x + j, i0, rows, act, fuse, Z + size_t(j) * ldz,
                          A + size_t(j) * ldz, ldz);
  const int left = m - j;
  if (left == 0) return;
  float* z = Z + size_t(j) * ldz;
  float* a = A + size_t(j) * ldz;
  const float* const* xj = x + j;
  switch (left) {
#define NNET_FWD_CASE(N)                                                 \
  case N:                                                                \
    forward_tile<NV, N>(W, b, r, c, xj, i0, rows, act, fuse, z, a, ldz); \
    break;
    NNET_FWD_CASE(1)
    NNET_FWD_CASE(2)
    NNET_FWD_CASE(3)
    NNET_FWD_CASE(4)
    NNET_FWD_CASE(5)
    NNET_FWD_CASE(6)
    NNET_FWD_CASE(7)
    NNET_FWD_CASE(8)
    NNET_FWD_CASE(9)
    NNET_FWD_CASE(10)
    NNET_FWD_CASE(11)
    NNET_FWD_CASE(12)
    NNET_FWD_CASE(13)
    NNET_FWD_CASE(14)
    NNET_FWD_CASE(15)
#undef NNET_FWD_CASE
  }
}

// The rule on one vector of weights: g is the gradient, v the velocity (momentum only).
template <bool kPlain>
inline __m512 apply_rule(__m512 w, __m512 g, float* vptr, __mmask16 mk, const UpdateRule& u) {
  const __m512 step = _mm512_set1_ps(u.step);
  if (kPlain) return _mm512_fnmadd_ps(step, g, w);  // w - step g
  __m512 delta;
  if (u.mu > 0) {
    __m512 v = _mm512_maskz_loadu_ps(mk, vptr);
    v = _mm512_fnmadd_ps(step, g, _mm512_mul_ps(_mm512_set1_ps(u.mu), v));  // mu v - step g
    _mm512_mask_storeu_ps(vptr, mk, v);
    delta = v;
  } else {
    delta = _mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), step), g);  // -step g
  }
  __m512 out = _mm512_fmadd_ps(_mm512_set1_ps(u.decay), w, delta);
  if (u.l1 != 0) {
    // sgn(w): +1, -1, or 0 (also for -0).
    const __m512 zero = _mm512_setzero_ps();
    const __m512 pos =
        _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(w, zero, _CMP_GT_OQ), _mm512_set1_ps(1.0f));
    const __m512 sgn =
        _mm512_mask_mov_ps(pos, _mm512_cmp_ps_mask(w, zero, _CMP_LT_OQ), _mm512_set1_ps(-1.0f));
    out = _mm512_fnmadd_ps(_mm512_set1_ps(u.l1), sgn, out);
  }
  return out;
}

// Rows [i0, i0 + 16*NV) by columns [k0, k0 + KB) of G = D X^T, formed in registers over the batch
// and applied to W straight away.
template <int NV, int KB, bool kPlain>
void update_tile(float* W, int r, const float* D, int ldd, const float* const* x, int m, int i0,
                 int rows, int k0, const UpdateRule& u, float* vw) {
  __mmask16 mk[NV];
  NNET_UNROLL
  for (int v = 0; v < NV; ++v) mk[v] = lanes(rows - 16 * v);
  __m512 acc[NV][KB];
  NNET_UNROLL
  for (int v = 0; v < NV; ++v) NNET_UNROLL
  for (int kk = 0; kk < KB; ++kk) acc[v][kk] = _mm512_setzero_ps();
  for (int j = 0; j < m; ++j) {
    __m512 dv[NV];
    NNET_UNROLL
    for (int v = 0; v < NV; ++v)
      dv[v] = _mm512_maskz_loadu_ps(mk[v], D + size_t(j) * ldd + i0 + 16 * v);
    const float* xj = x[j] + k0;
    NNET_UNROLL
    for (int kk = 0; kk < KB; ++kk) {
      const __m512 xb = _mm512_set1_ps(xj[kk]);
      NNET_UNROLL
      for (int v = 0; v < NV; ++v) acc[v][kk] = _mm512_fmadd_ps(dv[v], xb, acc[v][kk]);
    }
  }
  // All of the tile's weights are loaded before any is stored: with r = 30 a column's masked
  // store shares a 64-byte window with the next column's load, and a load behind such a store
  // stalls (failed store forwarding): once per tile this way instead of once per column.
  __m512 wv[NV][KB];
  NNET_UNROLL
  for (int kk = 0; kk < KB; ++kk) {
    NNET_UNROLL
    for (int v = 0; v < NV; ++v)
      wv[v][kk] = _mm512_maskz_loadu_ps(mk[v], W + size_t(k0 + kk) * r + i0 + 16 * v);
  }
  NNET_UNROLL
  for (int kk = 0; kk < KB; ++kk) {
    const size_t col = size_t(k0 + kk) * r + i0;
    NNET_UNROLL
    for (int v = 0; v < NV; ++v) {
      float* vp = vw ? vw + col + 16 * v : nullptr;
      _mm512_mask_storeu_ps(W + col + 16 * v, mk[v],
                            apply_rule<kPlain>(wv[v][kk], acc[v][kk], vp, mk[v], u));
    }
  }
}

template <int NV, bool kPlain>
void update_rows(float* W, int r, int c, const float* D, int ldd, const float* const* x, int m,
                 int i0, int rows, const UpdateRule& u, float* vw) {
  constexpr int kKB = NV == 2 ? 8 : 12;
  int k = 0;
  for (; k + kKB <= c; k += kKB)
    update_tile<NV, kKB, kPlain>(W, r, D, ldd, x, m, i0, rows, k, u, vw);
  switch (c - k) {
#define NNET_UPD_CASE(N)                                                \
  case N:                                                               \
    update_tile<NV, N, kPlain>(W, r, D, ldd, x, m, i0, rows, k, u, vw); \
    break;
    NNET_UPD_CASE(1)
    NNET_UPD_CASE(2)
    NNET_UPD_CASE(3)
    NNET_UPD_CASE(4)
    NNET_UPD_CASE(5)
    NNET_UPD_CASE(6)
    NNET_UPD_CASE(7)
    NNET_UPD_CASE(8)
    NNET_UPD_CASE(9)
    NNET_UPD_CASE(10)
    NNET_UPD_CASE(11)
#undef NNET_UPD_CASE
    default:
      break;
  }
}

template <bool kPlain>
void update_all(float* W, float* b, int r, int c, const float* D, int ldd, const float* const* x,
                int m, const UpdateRule& u, float* vw, float* vb) {
  int i = 0;
  for (; i + 16 < r; i += 32) update_rows<2, kPlain>(W, r, c, D, ldd, x, m, i, r - i, u, vw);
  if (i < r) update_rows<1, kPlain>(W, r, c, D, ldd, x, m, i, r - i, u, vw);
  // Biases: g_b = D 1, with the same rule minus decay and L1.
  for (int i0 = 0; i0 < r; i0 += 16) {
    const __mmask16 mk = lanes(r - i0);
    __m512 g = _mm512_setzero_ps();
    for (int j = 0; j < m; ++j)
      g = _mm512_add_ps(g, _mm512_maskz_loadu_ps(mk, D + size_t(j) * ldd + i0));
    const __m512 step = _mm512_set1_ps(u.step);
    __m512 bv = _mm512_maskz_loadu_ps(mk, b + i0);
    if (u.mu > 0) {
      __m512 v = _mm512_maskz_loadu_ps(mk, vb + i0);
      v = _mm512_fnmadd_ps(step, g, _mm512_mul_ps(_mm512_set1_ps(u.mu), v));
      _mm512_mask_storeu_ps(vb + i0, mk, v);
      bv = _mm512_add_ps(bv, v);
    } else {
      bv = _mm512_fnmadd_ps(step, g, bv);
    }
    _mm512_mask_storeu_ps(b + i0, mk, bv);
  }
}

}  // namespace

bool available() { return true; }

bool dense_forward(const float* W, const float* b, int r, int c, const float* const* x, int m,
                   Activation act, float* Z, float* A, int ldz) {
  const bool fuse =
      act == Activation::kSigmoid || act == Activation::kRelu || act == Activation::kLinear;
  int i = 0;
  for (; i + 16 < r; i += 32) forward_cols<2>(W, b, r, c, x, m, i, r - i, act, fuse, Z, A, ldz);
  if (i < r) forward_cols<1>(W, b, r, c, x, m, i, r - i, act, fuse, Z, A, ldz);
  return fuse;
}

void dense_update(float* W, float* b, int r, int c, const float* D, int ldd, const float* const* x,
                  int m, const UpdateRule& u, float* vw, float* vb) {
  const bool plain = u.decay == 1.0f && u.l1 == 0.0f && !(u.mu > 0);
  if (plain)
    update_all<true>(W, b, r, c, D, ldd, x, m, u, nullptr, nullptr);
  else
    update_all<false>(W, b, r, c, D, ldd, x, m, u, vw, vb);
}

#else  // no AVX-512: network.cc keeps to its Eigen path

bool available() { return false; }
bool dense_forward(const float*, const float*, int, int, const float* const*, int, Activation,
                   float*, float*, int) {
  return false;
}
void dense_update(float*, float*, int, int, const float*, int, const float* const*, int,
                  const UpdateRule&, float*, float*) {}

#endif

}  // namespace nnet::kernels
