// conv.h's float kernels in AVX-512 (see conv_avx512.h): GEMM tiles whose accumulators stay in
// registers, shifted copies of the input instead of im2col for stride 1, dW with the patch in the
// vector lanes, and a vectorised 2x2 max pool.
#include "nn/conv_avx512.h"

#include "nn/avx512.h"

#if defined(__AVX512F__)
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "nn/conv_parts.h"

namespace nnet::conv::avx512 {

namespace {

using ::nnet::avx512::lanes;
using namespace detail;

// C(r, 0:cols) for r < NR, cols <= 32:  C (=, or += when accumulate) bias(r) + sum_k A(r,k) B(k,:)
// with A(r, k) = A[r*ars + k*aks], B(k, p) = B[k*ldb + p], C(r, p) = C[r*ldc + p].
// 2*NR accumulators stay in registers for the whole k loop: 2 loads + NR broadcasts per 2*NR FMAs.
template <int NR>
void tile(const float* A, long ars, long aks, const float* B, long ldb, int K, float* C, long ldc,
          int cols, const float* bias, bool accumulate) {
  const __mmask16 m0 = lanes(cols), m1 = lanes(cols - 16);
  __m512 acc0[NR], acc1[NR];
  NNET_UNROLL
  for (int r = 0; r < NR; ++r) {
    if (accumulate) {
      acc0[r] = _mm512_maskz_loadu_ps(m0, C + r * ldc);
      acc1[r] = _mm512_maskz_loadu_ps(m1, C + r * ldc + 16);
    } else {
      acc0[r] = bias ? _mm512_set1_ps(bias[r]) : _mm512_setzero_ps();
      acc1[r] = acc0[r];
    }
  }
  if (m1 != 0) {
    for (int k = 0; k < K; ++k) {
      const __m512 b0 = _mm512_maskz_loadu_ps(m0, B + k * ldb);
      const __m512 b1 = _mm512_maskz_loadu_ps(m1, B + k * ldb + 16);
      const float* a = A + k * aks;
      NNET_UNROLL
      for (int r = 0; r < NR; ++r) {
        const __m512 av = _mm512_set1_ps(a[r * ars]);
        acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
        acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
      }
    }
  } else {  // one vector of columns
    for (int k = 0; k < K; ++k) {
      const __m512 b0 = _mm512_maskz_loadu_ps(m0, B + k * ldb);
      const float* a = A + k * aks;
      NNET_UNROLL
      for (int r = 0; r < NR; ++r)
        acc0[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[r * ars]), b0, acc0[r]);
    }
  }
  NNET_UNROLL
  for (int r = 0; r < NR; ++r) {
    _mm512_mask_storeu_ps(C + r * ldc, m0, acc0[r]);
    if (m1) _mm512_mask_storeu_ps(C + r * ldc + 16, m1, acc1[r]);
  }
}

constexpr int kMaxRows = 12;  // 24 accumulators + 2 loads + broadcasts fit 32 registers

// Rows blocked evenly (e.g. 20 -> 2 x 10, 40 -> 4 x 10, 33 -> 9,9,9,6), columns in 32s.
void gemm(int rows, int cols, int K, const float* A, long ars, long aks, const float* B, long ldb,
          float* C, long ldc, const float* bias, bool accumulate) {
  const int nb = (rows + kMaxRows - 1) / kMaxRows;
  const int nr = (rows + nb - 1) / nb;
  for (int r0 = 0; r0 < rows; r0 += nr) {
    const int n = std::min(nr, rows - r0);
    const float* a = A + r0 * ars;
    float* c = C + r0 * ldc;
    const float* bi = bias ? bias + r0 : nullptr;
    for (int p0 = 0; p0 < cols; p0 += 32) {
      const int w = std::min(32, cols - p0);
      switch (n) {
#define NNET_TILE_CASE(N)                                                 \
  case N:                                                                 \
    tile<N>(a, ars, aks, B + p0, ldb, K, c + p0, ldc, w, bi, accumulate); \
    break;
        NNET_TILE_CASE(1)
        NNET_TILE_CASE(2)
        NNET_TILE_CASE(3)
        NNET_TILE_CASE(4)
        NNET_TILE_CASE(5)
        NNET_TILE_CASE(6)
        NNET_TILE_CASE(7)
        NNET_TILE_CASE(8)
        NNET_TILE_CASE(9)
        NNET_TILE_CASE(10)
        NNET_TILE_CASE(11)
        NNET_TILE_CASE(12)
#undef NNET_TILE_CASE
      }
    }
  }
}

// colT (P, ldq) row-major: colT[oy*ow + ox][q], each (c, ky) a run of k input floats moved with
// one masked load/store (k <= 16), so the weight gradient's GEMM reads q contiguously. Only the
// output rows oy in [oy0, oy1), to colT's rows from 0.
void im2col_t(const Geometry& g, const float* x, int oy0, int oy1, float* colT, size_t ldq) {
  const int ow = g.out_w(), k = g.k, s = g.stride;
  const __mmask16 all = lanes(k);
  // Per output column, the lanes kx whose input column ox*s - pad + kx is inside the row.
  thread_local std::vector<__mmask16> valid_buf;
  valid_buf.resize(ow);
  __mmask16* const valid = valid_buf.data();  // read through a local pointer: stores below
                                              // would otherwise make the compiler reload it
  for (int ox = 0; ox < ow; ++ox) {
    const int ix0 = ox * s - g.pad;
    const int kx_lo = std::max(0, -ix0), kx_hi = std::min(k, g.w - ix0);
    valid[ox] = kx_hi > kx_lo ? static_cast<__mmask16>(lanes(kx_hi) & ~lanes(kx_lo)) : 0;
  }
  const __m512 zero = _mm512_setzero_ps();
  for (int oy = oy0; oy < oy1; ++oy)
    for (int c = 0; c < g.c; ++c)
      for (int ky = 0; ky < k; ++ky) {
        const int iy = oy * s + ky - g.pad;
        float* d = colT + size_t(oy - oy0) * ow * ldq + (c * k + ky) * k;
        if (iy < 0 || iy >= g.h) {
          for (int ox = 0; ox < ow; ++ox) _mm512_mask_storeu_ps(d + ox * ldq, all, zero);
          continue;
        }
        // Masked lanes never touch memory, so the base may sit left of the row's start.
        const float* src = x + (static_cast<long>(c * g.h + iy) * g.w - g.pad);
        for (int ox = 0; ox < ow; ++ox)
          _mm512_mask_storeu_ps(d + ox * ldq, all, _mm512_maskz_loadu_ps(valid[ox], src + ox * s));
      }
}

void forward_fast(const Geometry& g, const float* W, const float* b, const float* X, int ldx, int m,
                  float* Z, int ldz, int threads) {
  const int P = g.out_h() * g.out_w(), patch = g.patch(), F = g.filters;
  const size_t ldp = round16(P);
  parallel(m, threads, [&](int j) {
    float* col = scratch<float>(0, size_t(patch) * ldp);  // (patch, ldp)
    im2col(g, X + size_t(j) * ldx, col, ldp);
    // Z_j (F, P) = W (F, patch) col (patch, P) + b
    gemm(F, P, patch, W, 1, F, col, ldp, Z + size_t(j) * ldz, P, b, false);
  });
}

void backward_input_fast(const Geometry& g, const float* W, const float* dZ, int ldz, int m,
                         float* dX, int ldx, int threads) {
  const int P = g.out_h() * g.out_w(), patch = g.patch(), F = g.filters;
  const size_t ldp = round16(P);
  parallel(m, threads, [&](int j) {
    float* dcol = scratch<float>(0, size_t(patch) * ldp);  // (patch, ldp)
    // dcol (patch, P) = W^T (patch, F) dZ_j (F, P)
    gemm(patch, P, F, W, F, 1, dZ + size_t(j) * ldz, P, dcol, ldp, nullptr, false);
    float* dx = dX + size_t(j) * ldx;
    std::fill(dx, dx + g.in_size(), 0.0f);
    col2im(g, dcol, ldp, dx);
  });
}

void backward_params_fast(const Geometry& g, const float* X, int ldx, const float* dZ, int ldz,
                          int m, float* dW, float* db, int threads) {
  const int P = g.out_h() * g.out_w(), patch = g.patch(), F = g.filters;
  const bool masked_runs = g.k <= 16;
  const size_t ldq = round16(patch), ldp = round16(P);
  const int chunks = chunks_for(m);
  // Partial sums G_i (F, ldq) row-major, i.e. dW transposed per chunk, and db_i (F).
  const size_t part = size_t(F) * ldq + round16(F);
  float* parts = scratch<float>(1, part * chunks);
  parallel(chunks, threads, [&](int task) {
    const int i = chunk_of_task(m, chunks, task);
    float* G = parts + part * i;
    float* gb = G + size_t(F) * ldq;
    std::fill(G, G + part, 0.0f);
    float* colT = scratch<float>(0, size_t(P) * ldq + (masked_runs ? 0 : size_t(patch) * ldp));
    for (int j = chunk_begin(m, chunks, i); j < chunk_begin(m, chunks, i + 1); ++j) {
      const float* x = X + size_t(j) * ldx;
      const float* dz = dZ + size_t(j) * ldz;  // (F, P)
      if (masked_runs) {
        im2col_t(g, x, 0, g.out_h(), colT, ldq);
      } else {  // kernels wider than a vector: im2col, then transpose
        float* col = colT + size_t(P) * ldq;
        im2col(g, x, col, ldp);
        for (int q = 0; q < patch; ++q)
          for (int p = 0; p < P; ++p) colT[size_t(p) * ldq + q] = col[size_t(q) * ldp + p];
      }
      // G (F, patch) += dZ_j (F, P) colT (P, patch)
      gemm(F, patch, P, dz, P, 1, colT, ldq, G, ldq, nullptr, true);
      for (int f = 0; f < F; ++f) {
        const float* row = dz + size_t(f) * P;
        float s = 0;
        for (int p = 0; p < P; ++p) s += row[p];
        gb[f] += s;
      }
    }
  });
  // Fixed order: chunk 0, 1, 2, ... added into dW (F, patch) column-major.
  for (int i = 0; i < chunks; ++i) {
    const float* G = parts + part * i;
    for (int q = 0; q < patch; ++q)
      for (int f = 0; f < F; ++f) dW[f + size_t(F) * q] += G[size_t(f) * ldq + q];
    for (int f = 0; f < F; ++f) db[f] += G[size_t(F) * ldq + f];
  }
}

// r[i] <- column i of the 16 x 16 block whose rows are r[0..15] (values moved, never changed).
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {  // pairs of rows interleaved within 128-bit lanes
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {  // 4 x 4 blocks transposed within 128-bit lanes
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {  // then the 128-bit lanes themselves
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
  }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
  }
}

// D (P, ldd) = X (F, P)^T in 16 x 16 register blocks (was a scalar loop: for conv:40:5, as much
// time as a fifth of the weight gradient's products). Lanes F..ldd-1 of D's rows get zeros;
// ldd is a multiple of 16.
void transpose(const float* X, int F, int P, float* D, int ldd) {
  for (int f0 = 0; f0 < F; f0 += 16)
    for (int p0 = 0; p0 < P; p0 += 16) {
      const int nf = std::min(16, F - f0), np = std::min(16, P - p0);
      __m512 r[16];
      for (int i = 0; i < 16; ++i)
        r[i] = i < nf ? _mm512_maskz_loadu_ps(lanes(np), X + size_t(f0 + i) * P + p0)
                      : _mm512_setzero_ps();
      transpose16(r);
      for (int i = 0; i < np; ++i) _mm512_storeu_ps(D + size_t(p0 + i) * ldd + f0, r[i]);
    }
}

// ---- Stride 1: k shifted copies of the input instead of im2col ----
// For stride 1, im2col's row (c, ky, kx) is one contiguous run of a buffer k times the padded
// input: S (c, k, hp, ow), S[((c*k + kx)*hp + y)*ow + ox] = xpad(c, y, ox + kx) with hp = h + 2*pad
// and xpad the input inside `pad` zeros. Row (c, ky, kx) = the oh*ow floats from shift_row(). For
// the book's conv:40:5 on 20x12x12 that is 9,600 floats per sample instead of im2col's 32,000, so
// a sample's S stays in L1 while its GEMM runs.

inline int hpad(const Geometry& g) { return g.h + 2 * g.pad; }
inline size_t shift_size(const Geometry& g) { return size_t(g.c) * g.k * hpad(g) * g.out_w(); }
inline long shift_row(const Geometry& g, int c, int ky, int kx) {
  return (long(c * g.k + kx) * hpad(g) + ky) * g.out_w();
}

void build_shift(const Geometry& g, const float* x, float* S) {
  const int k = g.k, hp = hpad(g), ow = g.out_w(), pad = g.pad;
  if (pad == 0) {  // every run is ow floats of one input row: whole vectors, one masked tail
    const int full = ow & ~15;
    const __mmask16 tail = lanes(ow - full);
    for (int c = 0; c < g.c; ++c)
      for (int kx = 0; kx < k; ++kx) {
        float* d = S + size_t(c * k + kx) * hp * ow;
        const float* src = x + size_t(c) * g.h * g.w + kx;
        for (int y = 0; y < hp; ++y, d += ow, src += g.w) {
          for (int o = 0; o < full; o += 16) _mm512_storeu_ps(d + o, _mm512_loadu_ps(src + o));
          if (tail) _mm512_mask_storeu_ps(d + full, tail, _mm512_maskz_loadu_ps(tail, src + full));
        }
      }
    return;
  }
  for (int c = 0; c < g.c; ++c)
    for (int kx = 0; kx < k; ++kx) {
      float* s = S + size_t(c * k + kx) * hp * ow;
      // Columns ox whose input column ox + kx - pad lies inside [0, w).
      const int lo = std::clamp(pad - kx, 0, ow), hi = std::clamp(g.w + pad - kx, lo, ow);
      for (int y = 0; y < hp; ++y) {
        float* d = s + size_t(y) * ow;
        const int iy = y - pad;
        if (iy < 0 || iy >= g.h) {
          std::fill(d, d + ow, 0.0f);
          continue;
        }
        const float* src = x + long(c * g.h + iy) * g.w + (kx - pad);
        for (int o0 = 0; o0 < ow; o0 += 16) {
          // Masked lanes never touch memory, so src + o0 may start left of the row.
          const __mmask16 valid = static_cast<__mmask16>(lanes(hi - o0) & ~lanes(lo - o0));
          _mm512_mask_storeu_ps(d + o0, lanes(ow - o0), _mm512_maskz_loadu_ps(valid, src + o0));
        }
      }
    }
}

// C(r, 0:cols) for r < NR, cols <= 16*NV: C (=, or += when accumulate) bias(r) +
// sum over segments s < nseg and k < K of A[s*aseg + r*ars + k*aks] * B(s, k, 0:cols), with
// B(s, k, p) = B[s*bseg + koff[k] + p] (kTable) or B[s*bseg + k*ldb + p]. All NR*NV accumulators
// stay in registers over every segment.
template <int NR, int NV, bool kTable>
void tile_n(const float* A, long ars, long aks, long aseg, const float* B, long ldb,
            const int* koff, long bseg, int nseg, int K, float* C, long ldc, int cols,
            const float* bias, bool accumulate) {
  __mmask16 mk[NV];
  NNET_UNROLL
  for (int v = 0; v < NV; ++v) mk[v] = lanes(cols - 16 * v);
  __m512 acc[NR][NV];
  NNET_UNROLL
  for (int r = 0; r < NR; ++r) {
    NNET_UNROLL
    for (int v = 0; v < NV; ++v)
      acc[r][v] = accumulate ? _mm512_maskz_loadu_ps(mk[v], C + r * ldc + 16 * v)
                             : (bias ? _mm512_set1_ps(bias[r]) : _mm512_setzero_ps());
  }
  for (int s = 0; s < nseg; ++s) {
    const float* As = A + s * aseg;
    const float* Bs = B + s * bseg;
    for (int k = 0; k < K; ++k) {
      const float* b = Bs + (kTable ? long(koff[k]) : k * ldb);
      __m512 bv[NV];
      NNET_UNROLL
      for (int v = 0; v < NV; ++v) {
        bv[v] = _mm512_maskz_loadu_ps(mk[v], b + 16 * v);
        // Four vectors: keep each in a register. GCC otherwise folds the load into each row's
        // FMA, NR loads of it per k instead of one, and the tile waits on loads, not FMAs
        // (backward_input's 5 x 4 tile: -35% time). Narrower tiles it already compiles well.
        if constexpr (NV >= 4) __asm__("" : "+v"(bv[v]));
      }
      const float* a = As + k * aks;
      NNET_UNROLL
      for (int r = 0; r < NR; ++r) {
        const __m512 av = _mm512_set1_ps(a[r * ars]);
        NNET_UNROLL
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
      }
    }
  }
  NNET_UNROLL
  for (int r = 0; r < NR; ++r) {
    NNET_UNROLL
    for (int v = 0; v < NV; ++v) _mm512_mask_storeu_ps(C + r * ldc + 16 * v, mk[v], acc[r][v]);
  }
}

// Arguments of one tile_n call but the tile's shape (the rows' and columns' origins included).
struct TileArgs {
  const float* A;
  long ars, aks, aseg;
  const float* B;
  long ldb;
  const int* koff;
  long bseg;
  int nseg, K;
  float* C;
  long ldc;
  const float* bias;
  bool accumulate;
};

template <int NV, bool kTable, int R>
void tile_rows(int n, const TileArgs& t, int cols) {
  if constexpr (R > 0) {
    if (n == R)
      return tile_n<R, NV, kTable>(t.A, t.ars, t.aks, t.aseg, t.B, t.ldb, t.koff, t.bseg, t.nseg,
                                   t.K, t.C, t.ldc, cols, t.bias, t.accumulate);
    tile_rows<NV, kTable, R - 1>(n, t, cols);
  }
}

// The rows x cols block of C, rows split evenly into blocks of at most MaxR, columns in 16*NV.
template <int NV, bool kTable, int MaxR>
void gemm_n(int rows, int cols, TileArgs t) {
  const int nb = (rows + MaxR - 1) / MaxR;
  const int nr = (rows + nb - 1) / nb;
  for (int r0 = 0; r0 < rows; r0 += nr) {
    const int n = std::min(nr, rows - r0);
    TileArgs u = t;
    u.A = t.A + r0 * t.ars;
    u.C = t.C + r0 * t.ldc;
    u.bias = t.bias ? t.bias + r0 : nullptr;
    for (int p0 = 0; p0 < cols; p0 += 16 * NV) {
      TileArgs v = u;
      v.B = u.B + p0;
      v.C = u.C + p0;
      const int w = std::min(16 * NV, cols - p0);
      if (NV > 1 && w <= 16 * (NV - 1)) {  // a narrower last block: drop the empty vectors
        if constexpr (NV > 1) {
          gemm_n<NV - 1, kTable, MaxR>(n, w, v);
          continue;
        }
      }
      tile_rows<NV, kTable, MaxR>(n, v, w);
    }
  }
}

void forward_shift(const Geometry& g, const float* W, const float* b, const float* X, int ldx,
                   int m, float* Z, int ldz, int threads) {
  const int P = g.out_h() * g.out_w(), patch = g.patch(), F = g.filters, k = g.k;
  std::vector<int> koff(patch);  // (patch) where im2col's row q starts in S
  for (int c = 0; c < g.c; ++c)
    for (int ky = 0; ky < k; ++ky)
      for (int kx = 0; kx < k; ++kx) koff[(c * k + ky) * k + kx] = int(shift_row(g, c, ky, kx));
  parallel(m, threads, [&](int j) {
    float* S = scratch<float>(0, shift_size(g));
    build_shift(g, X + size_t(j) * ldx, S);
    // Z_j (F, P) = W (F, patch) im2col (patch, P) + b
    TileArgs t{W, 1, F, 0, S, 0, koff.data(), 0, 1, patch, Z + size_t(j) * ldz, P, b, false};
    gemm_n<2, true, kMaxRows>(F, P, t);
  });
}

void backward_input_shift(const Geometry& g, const float* W, const float* dZ, int ldz, int m,
                          float* dX, int ldx, int threads) {
  const int P = g.out_h() * g.out_w(), F = g.filters, k = g.k, ow = g.out_w(), hp = hpad(g);
  // For dX below: per 16-column block i0 and kx, the lanes of kx's run and where it is read,
  // relative to plane (c, 0) row iy. They depend on neither c, iy nor the sample.
  const int blocks = (g.w + 15) / 16;
  std::vector<__mmask16> run_lanes(size_t(blocks) * k);
  std::vector<long> run_at(size_t(blocks) * k);
  for (int b = 0; b < blocks; ++b)
    for (int kx = 0; kx < k; ++kx) {
      const int i0 = 16 * b, off = kx - g.pad;  // ix = ox + off
      const int lb = std::max(0, off), ub = std::min(g.w, ow + off);
      run_lanes[b * k + kx] = static_cast<__mmask16>(lanes(ub - i0) & ~lanes(lb - i0));
      run_at[b * k + kx] = shift_row(g, 0, 0, kx) + long(g.pad) * ow + (i0 - off);
    }
  parallel(m, threads, [&](int j) {
    float* dS = scratch<float>(0, shift_size(g));
    const int oh = g.out_h();
    // Rows y >= oh of each plane are first reached by ky >= 1, which adds: zero them.
    for (int c = 0; c < g.c; ++c)
      for (int kx = 0; kx < k; ++kx) {
        float* plane = dS + shift_row(g, c, 0, kx);
        std::fill(plane + size_t(oh) * ow, plane + size_t(hp) * ow, 0.0f);
      }
    const float* dz = dZ + size_t(j) * ldz;  // (F, P)
    // dS rows (c, ky, kx) (=, then +=) W^T (patch, F) dZ_j (F, P). The rows of one (c, ky)
    // land in different (c, kx) planes, so they form one tile; ky = 0 writes rows 0..oh-1, the
    // later ky groups add in a fixed order.
    for (int c = 0; c < g.c; ++c)
      for (int ky = 0; ky < k; ++ky) {
        const int q = (c * k + ky) * k;
        TileArgs t{W + size_t(F) * q,
                   F,
                   1,
                   0,
                   dz,
                   P,
                   nullptr,
                   0,
                   1,
                   F,
                   dS + shift_row(g, c, ky, 0),
                   long(hp) * ow,
                   nullptr,
                   ky > 0};
        gemm_n<4, false, 6>(k, P, t);
      }
    // dX(c, iy, ix) = sum over kx of dS(c, kx, iy + pad, ix + pad - kx).
    // Vectors of 16 ix; the lanes of kx's run are ix in [max(0, off), min(w, ow + off)), read
    // from s + ix - off (masked lanes never touch memory). Sums in kx order from 0.
    // (The masks and offsets come from the tables above: computing them here cost a third of
    // the whole backward_input for the book's conv:40:5.)
    float* dx = dX + size_t(j) * ldx;
    for (int c = 0; c < g.c; ++c)
      for (int iy = 0; iy < g.h; ++iy) {
        float* row = dx + size_t(c * g.h + iy) * g.w;
        const float* s = dS + shift_row(g, c, 0, 0) + long(iy) * ow;
        for (int b = 0; b < blocks; ++b) {
          const __mmask16* lane = &run_lanes[size_t(b) * k];
          const long* at = &run_at[size_t(b) * k];
          __m512 acc = _mm512_setzero_ps();
          for (int kx = 0; kx < k; ++kx)
            acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(lane[kx], s + at[kx]));
          _mm512_mask_storeu_ps(row + 16 * b, lanes(g.w - 16 * b), acc);
        }
      }
  });
}

void backward_params_shift(const Geometry& g, const float* X, int ldx, const float* dZ, int ldz,
                           int m, float* dW, float* db, int threads) {
  const int P = g.out_h() * g.out_w(), patch = g.patch(), F = g.filters, k = g.k, hp = hpad(g);
  const int Fp = int(round16(F));
  const int chunks = chunks_for(m);
  const int most = (m + chunks - 1) / chunks + 1;  // samples in the largest chunk, at most
  const size_t ss = round16(shift_size(g)), ts = size_t(P) * Fp;
  // Partial sums G_i (patch, F) row-major, i.e. dW's own layout, then db_i (F).
  const size_t part = size_t(patch) * F + round16(F);
  float* parts = scratch<float>(1, part * chunks);
  parallel(chunks, threads, [&](int task) {
    const int i = chunk_of_task(m, chunks, task);
    const int j0 = chunk_begin(m, chunks, i), n = chunk_begin(m, chunks, i + 1) - j0;
    float* G = parts + part * i;
    float* gb = G + size_t(patch) * F;
    float* S = scratch<float>(0, (ss + ts) * most);  // n shifted inputs, then n dZ^T
    float* D = S + ss * n;
    for (int j = 0; j < n; ++j) {
      build_shift(g, X + size_t(j0 + j) * ldx, S + ss * j);
      const float* dz = dZ + size_t(j0 + j) * ldz;  // (F, P)
      transpose(dz, F, P, D + ts * j, Fp);          // (P, Fp)
    }
    // db_i (F) = sum over the chunk's samples and p of dZ^T (p, F): the same tile with a row of
    // ones (a * 1 + acc is exact), F lanes at a time instead of a serial sum per filter.
    static const float kOne = 1.0f;
    gemm_n<4, false, 6>(
        1, F, TileArgs{&kOne, 0, 0, 0, D, Fp, nullptr, long(ts), n, P, gb, F, nullptr, false});
    // G rows (c, ky, kx) = sum over the chunk's samples and p of im2col(q, p) dZ^T (p, F): the
    // rows kx of one (c, ky) are equally spaced in S, so they form one tile.
    for (int c = 0; c < g.c; ++c)
      for (int ky = 0; ky < k; ++ky) {
        const int q = (c * k + ky) * k;
        TileArgs t{S + shift_row(g, c, ky, 0),
                   long(hp) * g.out_w(),
                   1,
                   long(ss),
                   D,
                   Fp,
                   nullptr,
                   long(ts),
                   n,
                   P,
                   G + size_t(q) * F,
                   F,
                   nullptr,
                   false};
        gemm_n<4, false, 6>(k, F, t);
      }
  });
  // Every element adds chunk 0, 1, 2, ... in that order; the elements are split over the threads
  // (for conv:40:5 that is 4 x 20,000 adds, and half the partial sums sit in the other core's
  // cache).
  const size_t nw = size_t(patch) * F, half = nw / 32 * 16;
  parallel(2, threads, [&](int t) {
    const size_t e0 = t == 0 ? 0 : half, e1 = t == 0 ? half : nw;
    for (int i = 0; i < chunks; ++i) {  // fixed order: chunk 0, 1, 2, ...
      const float* G = parts + part * i;
      for (size_t e = e0; e < e1; ++e) dW[e] += G[e];
      if (t == 1)
        for (int f = 0; f < F; ++f) db[f] += G[nw + f];
    }
  });
}

// Stride 1 with a small patch (the book's conv:20:5 on 1x28x28: 25 weights per filter): the
// same sums as backward_params_shift, with the patch in the vector lanes instead of the filters.
// Rows = filters, broadcast from dZ_j's own rows (no transposed copy of dZ: for 20 filters x 576
// positions that copy cost as much as the products), columns = q, read from im2col_t rows, plus
// one lane of ones whose column is db. Every G(f, q) is the same chain of FMAs over (sample,
// position) as there, and a*b = b*a, so the bits are the same.
bool params_in_lanes(const Geometry& g) { return g.stride == 1 && g.k <= 16 && g.patch() < 32; }

void backward_params_lanes(const Geometry& g, const float* X, int ldx, const float* dZ, int ldz,
                           int m, float* dW, float* db, int threads) {
  const int P = g.out_h() * g.out_w(), patch = g.patch(), F = g.filters;
  constexpr int kLd = 32;  // a row of T: the patch, the ones lane, unused lanes
  const int ow = g.out_w(), oh = g.out_h();
  const int rows = std::max(1, 96 / ow);  // output rows per piece of T (12 KB): T stays in L1
  const int chunks = chunks_for(m);
  const size_t part = size_t(F) * kLd;  // G_i (F, kLd) row-major: dW_i^T, then db_i in lane patch
  float* parts = scratch<float>(1, part * chunks);
  parallel(chunks, threads, [&](int task) {
    const int i = chunk_of_task(m, chunks, task);
    float* G = parts + part * i;
    std::fill(G, G + part, 0.0f);
    float* T = scratch<float>(0, size_t(rows) * ow * kLd);
    for (int r = 0; r < rows * ow; ++r) T[size_t(r) * kLd + patch] = 1.0f;
    for (int j = chunk_begin(m, chunks, i); j < chunk_begin(m, chunks, i + 1); ++j) {
      const float* x = X + size_t(j) * ldx;
      const float* dz = dZ + size_t(j) * ldz;  // (F, P)
      for (int oy = 0; oy < oh; oy += rows) {
        const int oy1 = std::min(oh, oy + rows), p0 = oy * ow;
        im2col_t(g, x, oy, oy1, T, kLd);
        // G (F, patch + 1) += dZ_j(:, p0:p1) [T | 1] (chained on from the last piece: exact)
        gemm_n<2, false, kMaxRows>(F, patch + 1,
                                   TileArgs{dz + p0, P, 1, 0, T, kLd, nullptr, 0, 1,
                                            (oy1 - oy) * ow, G, kLd, nullptr, true});
      }
    }
  });
  for (int i = 0; i < chunks; ++i) {  // fixed order: chunk 0, 1, 2, ...
    const float* G = parts + part * i;
    for (int q = 0; q < patch; ++q)
      for (int f = 0; f < F; ++f) dW[f + size_t(F) * q] += G[size_t(f) * kLd + q];
    for (int f = 0; f < F; ++f) db[f] += G[size_t(f) * kLd + patch];
  }
}


}  // namespace

bool available() { return true; }

void forward(const Geometry& g, const float* W, const float* b, const float* X, int ldx, int m,
             float* Z, int ldz, int threads) {
  if (g.stride == 1) return forward_shift(g, W, b, X, ldx, m, Z, ldz, threads);
  forward_fast(g, W, b, X, ldx, m, Z, ldz, threads);
}

void backward_input(const Geometry& g, const float* W, const float* dZ, int ldz, int m, float* dX,
                    int ldx, int threads) {
  if (g.stride == 1) return backward_input_shift(g, W, dZ, ldz, m, dX, ldx, threads);
  backward_input_fast(g, W, dZ, ldz, m, dX, ldx, threads);
}

void backward_params(const Geometry& g, const float* X, int ldx, const float* dZ, int ldz, int m,
                     float* dW, float* db, int threads) {
  if (params_in_lanes(g)) return backward_params_lanes(g, X, ldx, dZ, ldz, m, dW, db, threads);
  if (g.stride == 1) return backward_params_shift(g, X, ldx, dZ, ldz, m, dW, db, threads);
  backward_params_fast(g, X, ldx, dZ, ldz, m, dW, db, threads);
}

bool maxpool2(const float* x, int C, int h, int w, float* a, int* win) {
  const int oh = h / 2, ow = w / 2;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512i one = _mm512_set1_epi32(1), down = _mm512_set1_epi32(w),
                diag = _mm512_set1_epi32(w + 1);
  for (int c = 0; c < C; ++c)
    for (int oy = 0; oy < oh; ++oy) {
      const int base = (c * h + 2 * oy) * w;  // the window row's first input index
      const float* r0 = x + base;
      const float* r1 = r0 + w;
      float* ao = a + (c * oh + oy) * ow;
      int* wo = win + (c * oh + oy) * ow;
      for (int o0 = 0; o0 < ow; o0 += 16) {
        const int n = std::min(16, ow - o0);
        const __mmask16 lo = lanes(2 * n), hi = lanes(2 * n - 16);
        const __m512 a0 = _mm512_maskz_loadu_ps(lo, r0 + 2 * o0);
        const __m512 b0 = _mm512_maskz_loadu_ps(hi, r0 + 2 * o0 + 16);
        const __m512 a1 = _mm512_maskz_loadu_ps(lo, r1 + 2 * o0);
        const __m512 b1 = _mm512_maskz_loadu_ps(hi, r1 + 2 * o0 + 16);
        // The window in row-major order: (0,0), (0,1), (1,0), (1,1); strictly greater replaces.
        __m512 mx = _mm512_permutex2var_ps(a0, even, b0);
        __m512i off = _mm512_setzero_si512();
        const __m512 v01 = _mm512_permutex2var_ps(a0, odd, b0);
        __mmask16 k = _mm512_cmp_ps_mask(v01, mx, _CMP_GT_OQ);
        mx = _mm512_mask_mov_ps(mx, k, v01);
        off = _mm512_mask_mov_epi32(off, k, one);
        const __m512 v10 = _mm512_permutex2var_ps(a1, even, b1);
        k = _mm512_cmp_ps_mask(v10, mx, _CMP_GT_OQ);
        mx = _mm512_mask_mov_ps(mx, k, v10);
        off = _mm512_mask_mov_epi32(off, k, down);
        const __m512 v11 = _mm512_permutex2var_ps(a1, odd, b1);
        k = _mm512_cmp_ps_mask(v11, mx, _CMP_GT_OQ);
        mx = _mm512_mask_mov_ps(mx, k, v11);
        off = _mm512_mask_mov_epi32(off, k, diag);
        const __m512i idx =
            _mm512_add_epi32(_mm512_add_epi32(_mm512_set1_epi32(base + 2 * o0), even), off);
        _mm512_mask_storeu_ps(ao + o0, lanes(n), mx);
        _mm512_mask_storeu_epi32(wo + o0, lanes(n), idx);
      }
    }
  return true;
}

}  // namespace nnet::conv::avx512

#else  // no AVX-512: conv.cc runs its portable path, and nothing here is called

#include <cstdlib>

namespace nnet::conv::avx512 {

bool available() { return false; }
void forward(const Geometry&, const float*, const float*, const float*, int, int, float*, int,
             int) {
  std::abort();
}
void backward_input(const Geometry&, const float*, const float*, int, int, float*, int, int) {
  std::abort();
}
void backward_params(const Geometry&, const float*, int, const float*, int, int, float*, float*,
                     int) {
  std::abort();
}
bool maxpool2(const float*, int, int, int, float*, int*) { return false; }

}  // namespace nnet::conv::avx512

#endif
