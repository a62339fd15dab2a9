// Convolution kernels (src/conv.h): the naive direct loops against hand-computed outputs, their
// backward passes against central differences (double), the fast kernels against the naive ones
// over many geometries and batch sizes (float and double, all three functions, padded leading
// dimensions), and bit-identical results for 1, 2 and 3 threads. Runs in about a second.
#include "nn/conv.h"
#include "nn/workspace.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace nnet::conv {
namespace {

Geometry geom(int c, int h, int w, int filters, int k, int stride = 1, int pad = 0) {
  Geometry g;
  g.c = c;
  g.h = h;
  g.w = w;
  g.filters = filters;
  g.k = k;
  g.stride = stride;
  g.pad = pad;
  return g;
}

std::string describe(const Geometry& g, int m) {
  return "c " + std::to_string(g.c) + " h " + std::to_string(g.h) + " w " + std::to_string(g.w) +
         " filters " + std::to_string(g.filters) + " k " + std::to_string(g.k) + " stride " +
         std::to_string(g.stride) + " pad " + std::to_string(g.pad) + " m " + std::to_string(m);
}

template <class T>
std::vector<T> random_vec(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(u(gen));
  return v;
}

// One channel 3x3 input 1..9, one 2x2 filter [1 2; 3 4], bias 0.5: every output by hand.
TEST(ConvNaive, HandComputedValid) {
  const Geometry g = geom(1, 3, 3, 1, 2);
  const std::vector<double> x = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w = {1, 2, 3, 4}, b = {0.5};
  std::vector<double> z(4, -1);
  forward_naive(g, w.data(), b.data(), x.data(), 9, 1, z.data(), 4);
  // 1*1+2*2+4*3+5*4, 2*1+3*2+5*3+6*4, 4*1+5*2+7*3+8*4, 5*1+6*2+8*3+9*4
  EXPECT_EQ(z, (std::vector<double>{37.5, 47.5, 67.5, 77.5}));
}

// The same input and filter with pad 1, stride 2: the zero border by hand.
TEST(ConvNaive, HandComputedPaddedStrided) {
  const Geometry g = geom(1, 3, 3, 1, 2, 2, 1);
  ASSERT_EQ(g.out_h(), 2);
  ASSERT_EQ(g.out_w(), 2);
  const std::vector<double> x = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w = {1, 2, 3, 4}, b = {0};
  std::vector<double> z(4, -1);
  forward_naive(g, w.data(), b.data(), x.data(), 9, 1, z.data(), 4);
  // (0,0): 4*x00; (0,1): 3*x01+4*x02; (1,0): 2*x10+4*x20; (1,1): the full 2x2 window at (1,1).
  EXPECT_EQ(z, (std::vector<double>{4, 18, 36, 77}));
}

// Two filters over two channels, column-major W (filters, patch): filter 1 sums channel 1 only.
TEST(ConvNaive, HandComputedChannelsAndFilters) {
  const Geometry g = geom(2, 2, 2, 2, 2);
  // channel 0 = 1..4, channel 1 = 10, 20, 30, 40
  const std::vector<double> x = {1, 2, 3, 4, 10, 20, 30, 40};
  std::vector<double> w(2 * 8, 0.0);                 // (2, 8)
  for (int p = 0; p < 4; ++p) w[0 + 2 * p] = 1;      // filter 0: channel 0, all ones
  for (int p = 4; p < 8; ++p) w[1 + 2 * p] = p - 3;  // filter 1: channel 1, weights 1..4
  const std::vector<double> b = {0, 1};
  std::vector<double> z(2, -1);
  forward_naive(g, w.data(), b.data(), x.data(), 8, 1, z.data(), 2);
  EXPECT_EQ(z, (std::vector<double>{10, 1 + 10 + 40 + 90 + 160}));
}

// C = sum(R .* Z): dZ = R, and every input, weight and bias derivative by central differences.
TEST(ConvNaive, BackwardMatchesCentralDifferences) {
  for (const Geometry& g :
       {geom(2, 5, 4, 3, 3), geom(1, 6, 6, 2, 3, 2, 1), geom(3, 4, 5, 2, 2, 1, 2)}) {
    const int m = 2;
    SCOPED_TRACE(describe(g, m));
    std::vector<double> x = random_vec<double>(g.in_size() * m, 1);
    std::vector<double> w = random_vec<double>(g.filters * g.patch(), 2);
    std::vector<double> b = random_vec<double>(g.filters, 3);
    const std::vector<double> r = random_vec<double>(g.out_size() * m, 4);
    auto cost = [&] {
      std::vector<double> z(g.out_size() * m);
      forward_naive(g, w.data(), b.data(), x.data(), g.in_size(), m, z.data(), g.out_size());
      double c = 0;
      for (size_t i = 0; i < z.size(); ++i) c += r[i] * z[i] * z[i] / 2;  // nonlinear in params
      return c;
    };
    std::vector<double> z(g.out_size() * m);
    forward_naive(g, w.data(), b.data(), x.data(), g.in_size(), m, z.data(), g.out_size());
    std::vector<double> dz(z.size());
    for (size_t i = 0; i < z.size(); ++i) dz[i] = r[i] * z[i];
    std::vector<double> dx(x.size(), 7.0), dw(w.size(), 0.0), db(b.size(), 0.0);
    backward_input_naive(g, w.data(), dz.data(), g.out_size(), m, dx.data(), g.in_size());
    backward_params_naive(g, x.data(), g.in_size(), dz.data(), g.out_size(), m, dw.data(),
                          db.data());
    const double h = 1e-5;
    auto numeric = [&](double& v) {
      const double keep = v;
      v = keep + h;
      const double up = cost();
      v = keep - h;
      const double down = cost();
      v = keep;
      return (up - down) / (2 * h);
    };
    for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(dx[i], numeric(x[i]), 1e-6) << "x " << i;
    for (size_t i = 0; i < w.size(); ++i) EXPECT_NEAR(dw[i], numeric(w[i]), 1e-6) << "w " << i;
    for (size_t i = 0; i < b.size(); ++i) EXPECT_NEAR(db[i], numeric(b[i]), 1e-6) << "b " << i;
  }
}

// The shapes the fast kernels must handle: the book's two layers, k == h, stride 2, pads 1/2,
// odd sizes, a single channel/filter, widths around the vector length, and k > 16 (wider than
// one vector: a different im2col path); stride 1 takes the shifted-copy path.
std::vector<Geometry> shapes() {
  return {geom(1, 28, 28, 20, 5), geom(20, 12, 12, 40, 5), geom(1, 5, 5, 3, 5),
          geom(3, 7, 7, 4, 7, 1, 0), geom(2, 9, 7, 5, 3, 2, 0), geom(3, 8, 8, 6, 3, 1, 1),
          geom(2, 11, 13, 7, 3, 2, 1), geom(1, 6, 5, 2, 4, 1, 2), geom(4, 5, 5, 33, 1),
          geom(1, 1, 1, 1, 1), geom(5, 17, 19, 17, 4, 3, 2), geom(2, 4, 20, 9, 2, 1, 0),
          geom(1, 33, 3, 2, 3), geom(16, 3, 3, 16, 3, 1, 1), geom(1, 20, 18, 2, 17, 1, 1),
          // Stride 1 (the shifted-copy path): more filters than one 64-column tile, kernels wider
          // than a 6-row tile, output rows wider than a vector, a pad as wide as the kernel.
          geom(3, 10, 10, 70, 3, 1, 1), geom(2, 14, 40, 5, 13), geom(2, 30, 30, 3, 2),
          geom(2, 7, 9, 17, 3, 1, 3)};
}

template <class T>
double tolerance() {
  return std::is_same_v<T, float> ? 2e-4 : 1e-11;
}

// Relative to the larger of 1 and the reference's magnitude.
template <class T>
void expect_close(const std::vector<T>& got, const std::vector<T>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double e =
        std::abs(double(got[i]) - double(want[i])) / std::max(1.0, std::abs(double(want[i])));
    if (!(e <= worst)) {
      worst = e;
      at = i;
    }
  }
  EXPECT_LE(worst, tolerance<T>()) << what << " at " << at << ": " << got[at] << " vs " << want[at];
}

// Fast against naive: forward, backward_input and backward_params (which accumulates, so dW and
// db start from nonzero values), with leading dimensions larger than the sizes.
template <class T>
void check_fast(const Geometry& g, int m, int threads) {
  SCOPED_TRACE(describe(g, m) + " threads " + std::to_string(threads));
  const int ldx = g.in_size() + 3, ldz = g.out_size() + 5;
  const std::vector<T> x = random_vec<T>(size_t(ldx) * m, 11);
  const std::vector<T> w = random_vec<T>(size_t(g.filters) * g.patch(), 12);
  const std::vector<T> b = random_vec<T>(g.filters, 13);
  const std::vector<T> dz = random_vec<T>(size_t(ldz) * m, 14);

  std::vector<T> z_fast(size_t(ldz) * m, T(-3)), z_ref = z_fast;
  forward(g, w.data(), b.data(), x.data(), ldx, m, z_fast.data(), ldz, threads);
  forward_naive(g, w.data(), b.data(), x.data(), ldx, m, z_ref.data(), ldz);
  expect_close(z_fast, z_ref, "forward");  // padding entries untouched by both

  std::vector<T> dx_fast(size_t(ldx) * m, T(5)), dx_ref = dx_fast;
  backward_input(g, w.data(), dz.data(), ldz, m, dx_fast.data(), ldx, threads);
  backward_input_naive(g, w.data(), dz.data(), ldz, m, dx_ref.data(), ldx);
  expect_close(dx_fast, dx_ref, "backward_input");

  std::vector<T> dw_fast = random_vec<T>(w.size(), 15), dw_ref = dw_fast;
  std::vector<T> db_fast = random_vec<T>(b.size(), 16), db_ref = db_fast;
  backward_params(g, x.data(), ldx, dz.data(), ldz, m, dw_fast.data(), db_fast.data(), threads);
  backward_params_naive(g, x.data(), ldx, dz.data(), ldz, m, dw_ref.data(), db_ref.data());
  // dW sums m * out_h * out_w products: scale the tolerance by the terms' count.
  std::vector<T> dws(dw_fast.size()), dwr(dw_ref.size());
  const double scale = std::max(1.0, std::sqrt(double(m) * g.out_h() * g.out_w()) / 4);
  for (size_t i = 0; i < dws.size(); ++i) {
    dws[i] = T(dw_fast[i] / scale);
    dwr[i] = T(dw_ref[i] / scale);
  }
  expect_close(dws, dwr, "backward_params dW");
  for (size_t i = 0; i < db_fast.size(); ++i) {
    db_fast[i] = T(db_fast[i] / scale);
    db_ref[i] = T(db_ref[i] / scale);
  }
  expect_close(db_fast, db_ref, "backward_params db");
}

TEST(ConvFast, MatchesNaiveFloat) {
  for (const Geometry& g : shapes())
    for (int m : {1, 3, 10, 64}) check_fast<float>(g, m, 2);
}

TEST(ConvFast, MatchesNaiveDouble) {
  for (const Geometry& g : shapes())
    for (int m : {1, 3, 10}) check_fast<double>(g, m, 2);
  check_fast<double>(geom(20, 12, 12, 40, 5), 64, 2);
}

// The same inputs with 1, 2, 3 and all threads: bit-identical outputs and accumulated gradients.
template <class T>
void check_threads(const Geometry& g, int m) {
  SCOPED_TRACE(describe(g, m));
  const int ldx = g.in_size(), ldz = g.out_size();
  const std::vector<T> x = random_vec<T>(size_t(ldx) * m, 21);
  const std::vector<T> w = random_vec<T>(size_t(g.filters) * g.patch(), 22);
  const std::vector<T> b = random_vec<T>(g.filters, 23);
  const std::vector<T> dz = random_vec<T>(size_t(ldz) * m, 24);
  std::vector<T> z1, dx1, dw1, db1;
  for (int threads : {1, 2, 3, 0}) {
    std::vector<T> z(size_t(ldz) * m), dx(size_t(ldx) * m);
    std::vector<T> dw = random_vec<T>(w.size(), 25), db = random_vec<T>(b.size(), 26);
    forward(g, w.data(), b.data(), x.data(), ldx, m, z.data(), ldz, threads);
    backward_input(g, w.data(), dz.data(), ldz, m, dx.data(), ldx, threads);
    backward_params(g, x.data(), ldx, dz.data(), ldz, m, dw.data(), db.data(), threads);
    if (threads == 1) {
      z1 = z, dx1 = dx, dw1 = dw, db1 = db;
      continue;
    }
    SCOPED_TRACE("threads " + std::to_string(threads));
    EXPECT_TRUE(z == z1);
    EXPECT_TRUE(dx == dx1);
    EXPECT_TRUE(dw == dw1);
    EXPECT_TRUE(db == db1);
  }
}

TEST(ConvFast, ThreadCountNeverChangesResults) {
  for (int m : {1, 3, 10, 64}) {
    check_threads<float>(geom(1, 28, 28, 20, 5), m);
    check_threads<float>(geom(20, 12, 12, 40, 5), m);
    check_threads<double>(geom(20, 12, 12, 40, 5), m);
  }
  check_threads<float>(geom(3, 9, 11, 7, 3, 2, 1), 17);
}

// maxpool2 against the definition: values from a small set (many ties: the first maximum in
// row-major window order wins), widths around the vector length, a NaN in first position.
TEST(ConvFast, MaxPool2MatchesDirectLoops) {
  std::mt19937 gen(31);
  std::uniform_int_distribution<int> small(-3, 3);
  for (const auto& [c, h, w] : std::vector<std::array<int, 3>>{
           {1, 2, 2}, {20, 24, 24}, {40, 8, 8}, {3, 6, 34}, {2, 4, 64}, {1, 2, 30}}) {
    SCOPED_TRACE(std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w));
    std::vector<float> x(size_t(c) * h * w);
    for (float& v : x) v = static_cast<float>(small(gen));
    x[0] = std::nanf("");
    const int n = c * (h / 2) * (w / 2);
    std::vector<float> a(n, -9), want(n);
    std::vector<int> win(n, -1), want_win(n);
    if (!maxpool2(x.data(), c, h, w, a.data(), win.data())) GTEST_SKIP() << "no vector build";
    for (int ch = 0; ch < c; ++ch)
      for (int oy = 0; oy < h / 2; ++oy)
        for (int ox = 0; ox < w / 2; ++ox) {
          const int o = (ch * (h / 2) + oy) * (w / 2) + ox;
          int best = (ch * h + 2 * oy) * w + 2 * ox;
          for (int k : {best + 1, best + w, best + w + 1})
            if (x[k] > x[best]) best = k;
          want[o] = x[best];
          want_win[o] = best;
        }
    EXPECT_EQ(win, want_win);
    for (int o = 0; o < n; ++o)
      EXPECT_TRUE(a[o] == want[o] || (std::isnan(a[o]) && std::isnan(want[o]))) << o;
  }
}

}  // namespace
}  // namespace nnet::conv
