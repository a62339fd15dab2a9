// What conv.cc's portable path and conv_avx512.cc share (internal): the thread pool's entry
// point, per-thread scratch, im2col/col2im and backward_params' fixed sample chunks.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "nn/conv.h"

namespace nnet::conv::detail {

// Runs fn(0..tasks-1) on up to `threads` threads (0 = all cores) of one persistent pool; a
// task's result never depends on the thread that ran it.
void parallel(int tasks, int threads, const std::function<void(int)>& fn);

// Per-thread scratch, 64-byte aligned, grown as needed and kept (the pool's threads persist).
template <class T>
T* scratch(int slot, size_t n) {
  thread_local std::vector<char> bufs[3];
  std::vector<char>& b = bufs[slot];
  if (b.size() < n * sizeof(T) + 64) b.resize(n * sizeof(T) + 64);
  const uintptr_t p = reinterpret_cast<uintptr_t>(b.data());
  return reinterpret_cast<T*>((p + 63) & ~uintptr_t(63));
}

inline size_t round16(size_t n) { return (n + 15) & ~size_t(15); }

// The output columns ox whose input column ox*stride + kx - pad lies inside [0, w).
inline void valid_range(int n_out, int n_in, int stride, int off, int* lo, int* hi) {
  // off = kx - pad; need 0 <= ox*stride + off < n_in
  int l = off >= 0 ? 0 : (-off + stride - 1) / stride;
  int h = n_in - 1 - off < 0 ? 0 : (n_in - 1 - off) / stride + 1;
  *lo = std::min(l, n_out);
  *hi = std::max(*lo, std::min(h, n_out));
}

// col (patch, ldp) row-major: col[q][oy*ow + ox] = x(c, oy*s + ky - pad, ox*s + kx - pad).
template <class T>
void im2col(const Geometry& g, const T* x, T* col, size_t ldp) {
  const int oh = g.out_h(), ow = g.out_w(), k = g.k, s = g.stride;
  for (int c = 0; c < g.c; ++c)
    for (int ky = 0; ky < k; ++ky)
      for (int kx = 0; kx < k; ++kx) {
        T* row = col + size_t((c * k + ky) * k + kx) * ldp;
        int lo, hi;
        valid_range(ow, g.w, s, kx - g.pad, &lo, &hi);
        for (int oy = 0; oy < oh; ++oy) {
          T* dst = row + size_t(oy) * ow;
          const int iy = oy * s + ky - g.pad;
          if (iy < 0 || iy >= g.h) {
            std::fill(dst, dst + ow, T(0));
            continue;
          }
          const T* src = x + size_t(c * g.h + iy) * g.w + (kx - g.pad);
          std::fill(dst, dst + lo, T(0));
          if (s == 1) {
            std::copy(src + lo, src + hi, dst + lo);
          } else {
            for (int ox = lo; ox < hi; ++ox) dst[ox] = src[ox * s];
          }
          std::fill(dst + hi, dst + ow, T(0));
        }
      }
}

// dx += col2im(dcol): the transpose of im2col (dx already zeroed).
template <class T>
void col2im(const Geometry& g, const T* dcol, size_t ldp, T* dx) {
  const int oh = g.out_h(), ow = g.out_w(), k = g.k, s = g.stride;
  for (int c = 0; c < g.c; ++c)
    for (int ky = 0; ky < k; ++ky)
      for (int kx = 0; kx < k; ++kx) {
        const T* row = dcol + size_t((c * k + ky) * k + kx) * ldp;
        int lo, hi;
        valid_range(ow, g.w, s, kx - g.pad, &lo, &hi);
        for (int oy = 0; oy < oh; ++oy) {
          const int iy = oy * s + ky - g.pad;
          if (iy < 0 || iy >= g.h) continue;
          const T* src = row + size_t(oy) * ow;
          T* dst = dx + size_t(c * g.h + iy) * g.w + (kx - g.pad);
          if (s == 1) {
            for (int ox = lo; ox < hi; ++ox) dst[ox] += src[ox];
          } else {
            for (int ox = lo; ox < hi; ++ox) dst[ox * s] += src[ox];
          }
        }
      }
}

// backward_params splits the batch into this many fixed chunks (fewer for m < 4), whatever the
// thread count; the chunks' partial sums are added in chunk order.
inline constexpr int kParamChunks = 4;

inline int chunks_for(int m) { return std::min(m, kParamChunks); }
inline int chunk_begin(int m, int chunks, int i) {
  return static_cast<int>(static_cast<long>(m) * i / chunks);
}

// The chunk a backward_params task computes: larger chunks first (batch 10 is chunks of 2, 3,
// 2, 3; in index order two threads would end on 4 and 6 samples, largest first on 5 and 5).
// Which task computes a chunk never changes its sum, nor the chunk-order reduction after.
inline int chunk_of_task(int m, int chunks, int task) {
  int order[kParamChunks];
  for (int i = 0; i < chunks; ++i) order[i] = i;
  auto size = [&](int i) { return chunk_begin(m, chunks, i + 1) - chunk_begin(m, chunks, i); };
  std::stable_sort(order, order + chunks, [&](int a, int b) { return size(a) > size(b); });
  return order[task];
}

}  // namespace nnet::conv::detail
