// Convolution kernels: the naive oracle and the dispatching entry points (see conv.h).
#include "nn/conv.h"

// GCC 12's AVX-512 headers, which Eigen includes in an AVX-512 build, trip -Wmaybe-uninitialized
// (_mm512_undefined_ps): a false alarm.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include "nn/conv_avx512.h"
#include "nn/conv_parts.h"
#include "nn/ordered_sum.h"

#include <Eigen/Core>

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

// ---------------------------------------------------------------------------------------------
// The fast path. Per sample: im2col, then a GEMM whose columns are the output positions, so the
// result lands in the sample's (F, out_h*out_w) layout without a transpose.

namespace {

// A small persistent pool: spawning threads per call would cost more than a batch-10 layer.
// Tasks are handed out by an atomic counter; a task's result never depends on which thread ran
// it, so any thread count gives the same bits.
class Pool {
 public:
  static Pool& get() {
    static Pool pool;
    return pool;
  }
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(0..tasks-1) on up to `threads` threads (the caller is one of them). Tasks are
  // claimed one at a time; the caller waits only for tasks a worker has claimed, never for a
  // worker to wake up: on a loaded machine a descheduled worker costs nothing, the caller simply
  // runs every task itself.
  void run(int tasks, int threads, const std::function<void(int)>& fn) {
    threads = std::min({threads, tasks, size()});
    std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
    if (threads <= 1 || !lock.owns_lock() || tasks >= kMaxTasks) {  // same results
      for (int i = 0; i < tasks; ++i) fn(i);
      return;
    }
    fn_ = &fn;
    limit_.store(threads - 1, std::memory_order_relaxed);
    completed_.store(0, std::memory_order_relaxed);
    const uint64_t gen = gen_of(work_.load(std::memory_order_relaxed)) + 1;
    work_.store(pack(gen, tasks, 0), std::memory_order_release);
    work_.notify_all();
    claim_all(gen, [&](int i) {
      fn(i);
      completed_.fetch_add(1, std::memory_order_acq_rel);
    });
    for (int spin = 0;; ++spin) {
      const int done = completed_.load(std::memory_order_acquire);
      if (done == tasks) break;
      if (spin < kSpins)
        pause();
      else
        completed_.wait(done, std::memory_order_acquire);
    }
  }

 private:
  static constexpr int kSpins = 2000;
  static constexpr int kMaxTasks = 1 << 20;
  // work_ = generation (24 bits) | tasks (20) | next unclaimed task (20), changed by one CAS.
  static uint64_t pack(uint64_t gen, uint64_t tasks, uint64_t next) {
    return (gen & 0xFFFFFF) << 40 | tasks << 20 | next;
  }
  static uint64_t gen_of(uint64_t s) { return s >> 40; }
  static int tasks_of(uint64_t s) { return static_cast<int>((s >> 20) & 0xFFFFF); }
  static int next_of(uint64_t s) { return static_cast<int>(s & 0xFFFFF); }
  static void pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

  // Claims and runs tasks of generation `gen` until none is left (or a newer generation began).
  template <class Run>
  void claim_all(uint64_t gen, Run&& run) {
    uint64_t s = work_.load(std::memory_order_acquire);
    while (gen_of(s) == (gen & 0xFFFFFF) && next_of(s) < tasks_of(s)) {
      if (work_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        run(next_of(s));
        s = work_.load(std::memory_order_acquire);
      }
    }
  }

  Pool() {
    const unsigned hc = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned t = 1; t < hc; ++t)
      workers_.emplace_back([this, t] { loop(static_cast<int>(t)); });
  }
  ~Pool() {
    stop_.store(true);
    work_.store(pack(gen_of(work_.load()) + 1, 0, 0), std::memory_order_release);
    work_.notify_all();
    for (auto& w : workers_) w.join();
  }

  void loop(int index) {
    uint64_t seen = 0;
    for (;;) {
      uint64_t s = work_.load(std::memory_order_acquire);
      for (int spin = 0; gen_of(s) == seen; ++spin) {
        if (spin < kSpins)
          pause();
        else
          work_.wait(s, std::memory_order_acquire);
        s = work_.load(std::memory_order_acquire);
      }
      seen = gen_of(s);
      if (stop_.load()) return;
      if (index > limit_.load(std::memory_order_relaxed)) continue;
      // fn_ stays valid while a claimed task of this generation is unfinished.
      claim_all(seen, [&](int i) {
        (*fn_)(i);
        const int total = tasks_of(s);
        if (completed_.fetch_add(1, std::memory_order_acq_rel) + 1 == total)
          completed_.notify_one();
      });
    }
  }

  std::mutex mu_;  // one caller at a time
  std::vector<std::thread> workers_;
  std::atomic<uint64_t> work_{0};
  std::atomic<int> completed_{0}, limit_{0};
  std::atomic<bool> stop_{false};
  const std::function<void(int)>* fn_ = nullptr;
};

}  // namespace

namespace detail {

int resolve(int threads) { return threads > 0 ? threads : Pool::get().size(); }

void parallel(int tasks, int threads, const std::function<void(int)>& fn) {
  threads = resolve(threads);
  if (threads <= 1 || tasks <= 1) {
    for (int i = 0; i < tasks; ++i) fn(i);
    return;
  }
  Pool::get().run(tasks, threads, fn);
}

}  // namespace detail

namespace {

using namespace detail;

// The portable path (double everywhere; float without AVX-512): im2col + Eigen's GEMM.
template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ColMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;

template <class T>
void forward_eigen(const Geometry& g, const T* W, const T* b, const T* X, int ldx, int m, T* Z,
                   int ldz, int threads) {
  const int P = g.out_h() * g.out_w(), patch = g.patch(), F = g.filters;
  parallel(m, threads, [&](int j) {
    T* col = scratch<T>(0, size_t(patch) * P);
    im2col(g, X + size_t(j) * ldx, col, P);
    Eigen::Map<const ColMat<T>> w(W, F, patch);
    Eigen::Map<const RowMat<T>> cm(col, patch, P);
    Eigen::Map<RowMat<T>> z(Z + size_t(j) * ldz, F, P);
    z.noalias() = w * cm;
    z.colwise() += Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>(b, F);
  });
}

template <class T>
void backward_input_eigen(const Geometry& g, const T* W, const T* dZ, int ldz, int m, T* dX,
                          int ldx, int threads) {
  const int P = g.out_h() * g.out_w(), patch = g.patch(), F = g.filters;
  parallel(m, threads, [&](int j) {
    T* dcol = scratch<T>(0, size_t(patch) * P);
    Eigen::Map<const ColMat<T>> w(W, F, patch);
    Eigen::Map<const RowMat<T>> dz(dZ + size_t(j) * ldz, F, P);
    Eigen::Map<RowMat<T>> dc(dcol, patch, P);
    dc.noalias() = w.transpose() * dz;
    T* dx = dX + size_t(j) * ldx;
    std::fill(dx, dx + g.in_size(), T(0));
    col2im(g, dcol, P, dx);
  });
}

template <class T>
void backward_params_eigen(const Geometry& g, const T* X, int ldx, const T* dZ, int ldz, int m,
                           T* dW, T* db, int threads) {
  const int P = g.out_h() * g.out_w(), patch = g.patch(), F = g.filters;
  const int chunks = chunks_for(m);
  const size_t part = size_t(F) * patch + F;
  T* parts = scratch<T>(1, part * chunks);
  parallel(chunks, threads, [&](int task) {
    const int i = chunk_of_task(m, chunks, task);
    T* G = parts + part * i;  // (F, patch) column-major, then db (F)
    std::fill(G, G + part, T(0));
    Eigen::Map<ColMat<T>> gw(G, F, patch);
    Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>> gb(G + size_t(F) * patch, F);
    T* col = scratch<T>(0, size_t(patch) * P);
    for (int j = chunk_begin(m, chunks, i); j < chunk_begin(m, chunks, i + 1); ++j) {
      im2col(g, X + size_t(j) * ldx, col, P);
      Eigen::Map<const RowMat<T>> cm(col, patch, P);
      Eigen::Map<const RowMat<T>> dz(dZ + size_t(j) * ldz, F, P);
      gw.noalias() += dz * cm.transpose();
      add_row_sums(dz, gb);  // not rowwise().sum(): ordered_sum.h
    }
  });
  for (int i = 0; i < chunks; ++i) {
    const T* G = parts + part * i;
    for (size_t e = 0; e < size_t(F) * patch; ++e) dW[e] += G[e];
    for (int f = 0; f < F; ++f) db[f] += G[size_t(F) * patch + f];
  }
}

// threads == 0 (all cores) for a call with less work than this: one thread, since handing its
// tasks to another core would cost about what sharing saves. Never changes a result.
constexpr double kMinSharedFlops = 1e6;

int threads_for(int threads, const Geometry& g, int m) {
  if (threads != 0) return threads;
  const double flops = 2.0 * g.filters * g.patch() * g.out_h() * g.out_w() * m;
  return flops < kMinSharedFlops ? 1 : 0;
}

}  // namespace

void parallel_for(int tasks, int threads, size_t elements, const std::function<void(int)>& fn) {
  // An elementwise pass over fewer elements is over before a handoff would pay.
  constexpr size_t kMinSharedElements = 32768;
  parallel(tasks, threads == 0 && elements < kMinSharedElements ? 1 : threads, fn);
}

template <class T>
void forward(const Geometry& g, const T* W, const T* b, const T* X, int ldx, int m, T* Z, int ldz,
             int threads) {
  threads = threads_for(threads, g, m);
  if constexpr (std::is_same_v<T, float>)
    if (avx512::available()) return avx512::forward(g, W, b, X, ldx, m, Z, ldz, threads);
  forward_eigen(g, W, b, X, ldx, m, Z, ldz, threads);
}

template <class T>
void backward_input(const Geometry& g, const T* W, const T* dZ, int ldz, int m, T* dX, int ldx,
                    int threads) {
  threads = threads_for(threads, g, m);
  if constexpr (std::is_same_v<T, float>)
    if (avx512::available()) return avx512::backward_input(g, W, dZ, ldz, m, dX, ldx, threads);
  backward_input_eigen(g, W, dZ, ldz, m, dX, ldx, threads);
}

template <class T>
void backward_params(const Geometry& g, const T* X, int ldx, const T* dZ, int ldz, int m, T* dW,
                     T* db, int threads) {
  threads = threads_for(threads, g, m);
  if constexpr (std::is_same_v<T, float>)
    if (avx512::available())
      return avx512::backward_params(g, X, ldx, dZ, ldz, m, dW, db, threads);
  backward_params_eigen(g, X, ldx, dZ, ldz, m, dW, db, threads);
}

bool maxpool2(const float* x, int C, int h, int w, float* a, int* win) {
  return avx512::maxpool2(x, C, h, w, a, win);
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
