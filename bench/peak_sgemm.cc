// This machine's single-precision FLOP rate, two ways:
//  - sgemm: Eigen's blocked float matrix product (C = A B, n x n), on 1 and on all threads
//    (Eigen parallelises with OpenMP) — what a tuned dense kernel reaches, the FLOP-bound basis;
//  - fma: a register-only loop of independent 512/256-bit FMAs — the core's arithmetic ceiling.
// Prints one JSON line. Usage: peak_sgemm [n=1024] [reps=20] (best of reps: robust to sharing)
#include <Eigen/Core>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>
#if defined(_OPENMP)
#include <omp.h>
#endif
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Best GFLOP/s of C = A B over `reps` runs on `threads` threads.
double sgemm_gflops(int n, int reps, int threads) {
  Eigen::setNbThreads(threads);
  Eigen::MatrixXf a = Eigen::MatrixXf::Random(n, n);  // (n, n)
  Eigen::MatrixXf b = Eigen::MatrixXf::Random(n, n);  // (n, n)
  Eigen::MatrixXf c(n, n);                            // (n, n)
  c.noalias() = a * b;                                // warm-up
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const double t0 = now();
    c.noalias() = a * b;
    best = std::min(best, now() - t0);
  }
  volatile float sink = c(0, 0);
  (void)sink;
  return 2.0 * n * n * double(n) / best / 1e9;
}

// Register-only FMA throughput of one core: 16 independent accumulator chains.
double fma_gflops_one_core() {
#if defined(__AVX512F__)
  using V = __m512;
  constexpr int kLanes = 16;
#define NNET_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define NNET_SET1(x) _mm512_set1_ps(x)
#define NNET_ADD(a, b) _mm512_add_ps(a, b)
#define NNET_SUM(v) _mm512_reduce_add_ps(v)
#elif defined(__AVX2__)
  using V = __m256;
  constexpr int kLanes = 8;
#define NNET_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define NNET_SET1(x) _mm256_set1_ps(x)
#define NNET_ADD(a, b) _mm256_add_ps(a, b)
#define NNET_SUM(v) (v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7])
#endif
#if defined(__AVX512F__) || defined(__AVX2__)
  V acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = NNET_SET1(0.001f * i);
  const V x = NNET_SET1(0.999999f), y = NNET_SET1(1e-7f);
  // Many short repetitions, best kept: on a shared machine some run without being preempted.
  const long iters = 500000;
  double best = 1e30;
  for (int rep = 0; rep < 60; ++rep) {
    const double t0 = now();
    for (long k = 0; k < iters; ++k) {
      for (int i = 0; i < 16; ++i) acc[i] = NNET_FMA(acc[i], x, y);
      __asm__ volatile("" : "+v"(acc[0]), "+v"(acc[1]), "+v"(acc[2]), "+v"(acc[3]));
    }
    best = std::min(best, now() - t0);
  }
  V s = acc[0];
  for (int i = 1; i < 16; ++i) s = NNET_ADD(s, acc[i]);
  volatile float sink = NNET_SUM(s);
  (void)sink;
  return 2.0 * kLanes * 16.0 * iters / best / 1e9;
#else
  return 0.0;
#endif
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 1024;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 20;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const double g1 = sgemm_gflops(n, reps, 1);
  double gall = g1;
#if defined(_OPENMP)
  if (cores > 1) gall = sgemm_gflops(n, reps, cores);
#endif
  const double f1 = fma_gflops_one_core();
  std::printf(
      "{\"n\": %d, \"cores\": %d, \"sgemm_gflops_1t\": %.1f, \"sgemm_gflops_all\": %.1f, "
      "\"fma_gflops_1core\": %.1f, \"openmp\": %s, \"simd\": \"%s\"}\n",
      n, cores, g1, gall, f1,
#if defined(_OPENMP)
      "true",
#else
      "false",
#endif
      Eigen::SimdInstructionSetsInUse());
  return 0;
}
