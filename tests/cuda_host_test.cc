// The CUDA backend's kernels on the CPU: every kernel body of src/cuda/*_kernels.h, the kernel
// sequence of a step (program.h) and DeviceNet's memory handling (net_runner.h), run by the host
// executor (host_exec.h) over every block and thread the GPU would launch, with the GPU's
// summation trees. The same source the GPU runs, so its arithmetic and indexing are checked here,
// in every build (no GPU, no CUDA toolkit needed), against the float64 CPU engine, network.h's
// apply_update, engine/tally.h's tally_batch, and Random123's published Philox vectors.
// tests/cuda_test.cc runs the same comparisons on a GPU when there is one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>

#include "cuda/host_exec.h"
#include "engine/tally.h"
#include "nn/workspace.h"
#include "nnet/health.h"
#include "cuda_cases.h"
#include "nnet/network.h"

namespace nnet {
namespace {

using namespace cuda_cases;

using cuda::HostNet;

// ---- Philox4x32-10: the dropout draws ----

// Random123's tests/kat_vectors (DEShawResearch/random123), the philox4x32 lines: counter (4
// words), key (2 words), expected output (4 words).
struct Kat {
  int rounds;
  uint32_t ctr[4], key[2], out[4];
};
constexpr Kat kKat[] = {
    {7, {0, 0, 0, 0}, {0, 0}, {0x5f6fb709, 0x0d893f64, 0x4f121f81, 0x4f730a48}},
    {7,
     {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
     {0xffffffff, 0xffffffff},
     {0x5207ddc2, 0x45165e59, 0x4d8ee751, 0x8c52f662}},
    {7,
     {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
     {0xa4093822, 0x299f31d0},
     {0x4dfccaba, 0x190a87f0, 0xc47362ba, 0xb6b5242a}},
    {10, {0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {10,
     {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
     {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {10,
     {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
     {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

TEST(CudaHostPhilox, Random123KnownAnswers) {
  for (const Kat& k : kKat) {
    const cuda::Philox4x32 c{{k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3]}};
    const cuda::Philox4x32 r = k.rounds == 7 ? cuda::philox4x32<7>(c, k.key[0], k.key[1])
                                             : cuda::philox4x32<10>(c, k.key[0], k.key[1]);
    for (int w = 0; w < 4; ++w)
      EXPECT_EQ(r.v[w], k.out[w]) << "philox4x32-" << k.rounds << " vector with counter word 0 "
                                  << std::hex << k.ctr[0] << ", output word " << w;
  }
}

// The documented mapping (common.h): key = seed, counter = (e/4, step), word e % 4.
TEST(CudaHostPhilox, DrawsFollowTheDocumentedMapping) {
  const unsigned long long seeds[] = {0, 5, 0x123456789abcdefull};
  const long long steps[] = {0, 1, 42, 0x1'0000'0007ll};
  const unsigned long long elements[] = {
      0, 1, 2, 3, 4, 7, 1000001, (3ull << 40) + 5, 0x7'0000'0003ull};
  for (unsigned long long seed : seeds)
    for (long long step : steps)
      for (unsigned long long e : elements) {
        const unsigned long long q = e / 4, s = static_cast<unsigned long long>(step);
        const cuda::Philox4x32 c{{static_cast<uint32_t>(q), static_cast<uint32_t>(q >> 32),
                                  static_cast<uint32_t>(s), static_cast<uint32_t>(s >> 32)}};
        const uint32_t want =
            cuda::philox4x32<10>(c, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32))
                .v[e % 4];
        ASSERT_EQ(cuda::dropout_bits(seed, step, e), want) << seed << " " << step << " " << e;
        const double u = cuda::dropout_uniform(seed, step, e);
        EXPECT_EQ(u, (want + 0.5) / 4294967296.0);
        EXPECT_GT(u, 0.0);
        EXPECT_LT(u, 1.0);
      }
}

// ---- The executor itself ----

// The tree every block and warp sums over: ((v0+v4)+(v2+v6)) + ((v1+v5)+(v3+v7)) for 8 values,
// which in float differs from adding them in index order.
TEST(CudaHostExec, TheFixedTreeIsTheDocumentedOne) {
  float v[8] = {1e8f, 1.0f, -1e8f, 1.0f, 3.0f, 0.5f, 0.25f, -7.0f};
  const float want = ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
  float seq = 0;
  for (float x : v) seq += x;
  ASSERT_NE(want, seq);  // the example tells the orders apart
  EXPECT_EQ(cuda::tree_reduce(v, 8, cuda::SumOp()), want);
  float w[4] = {2.0f, std::nanf(""), 5.0f, -1.0f};
  EXPECT_EQ(cuda::tree_reduce(w, 4, cuda::MaxOp()), 5.0f);  // NaN on the right never wins
}

// Every item of a grid once, every group's partials over the tree, as the device's grid.
struct CountItems {
  static constexpr cuda::Launch kLaunch = cuda::Launch::kPerItem;
  static constexpr int kBlock = cuda::kThreads;
  size_t n;
  int* hits;
  bool active() const { return true; }
  size_t items() const { return n; }
  void operator()(size_t idx) const { ++hits[idx]; }
};
struct GroupIndex {
  static constexpr cuda::Launch kLaunch = cuda::Launch::kPerGroup;
  static constexpr int kGroup = cuda::kWarp;
  using Acc = long long;
  size_t n;
  long long* out;
  bool active() const { return true; }
  size_t groups() const { return n; }
  long long partial(size_t g, int lane) const { return static_cast<long long>(g) * 1000 + lane; }
  void finish(size_t g, long long s) const { out[g] = s; }
};

TEST(CudaHostExec, EveryItemOnceEveryGroupSummed) {
  cuda::HostExec ex;
  for (size_t n : {size_t{1}, size_t{255}, size_t{256}, size_t{257}, size_t{1000}}) {
    std::vector<int> hits(n, 0);
    ex.run(CountItems{n, hits.data()});
    EXPECT_TRUE(std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; })) << n;
  }
  std::vector<long long> out(5, -1);
  ex.run(GroupIndex{5, out.data()});
  for (size_t g = 0; g < 5; ++g) EXPECT_EQ(out[g], static_cast<long long>(g) * 32000 + 496);
}

// ---- The softmax kernel: a block per sample, the max and the sum over the block's tree ----

// Columns of N outputs around 1000 (exp would overflow without the max), N below a warp, above
// it, and above the 1024 threads a block takes (threads stride over the outputs); z given (the
// GEMM path) or computed.
TEST(CudaHostSoftmax, WideColumnsAndLargeInputs) {
  for (const int N : {10, 40, 1500}) {
    for (const bool have_z : {false, true}) {
      SCOPED_TRACE(std::to_string(N) + (have_z ? " from z" : " from W x + b"));
      const int K = 7, m = 3;
      std::mt19937 rng(static_cast<uint32_t>(N));
      std::uniform_real_distribution<double> u(-1.0, 1.0);
      std::vector<double> W(static_cast<size_t>(N) * K), b(N), X(static_cast<size_t>(K) * m);
      for (double& v : W) v = u(rng);
      for (double& v : b) v = 1000 + 5 * u(rng);
      for (double& v : X) v = u(rng);
      std::vector<double> z(static_cast<size_t>(N) * m), a(z.size(), -1.0), want(z.size());
      for (int j = 0; j < m; ++j) {
        double mx = -INFINITY, sum = 0;
        for (int r = 0; r < N; ++r) {
          double s = b[r];
          for (int k = 0; k < K; ++k) s += W[r + static_cast<size_t>(N) * k] * X[k + K * j];
          want[r + static_cast<size_t>(N) * j] = s;
          if (have_z) z[r + static_cast<size_t>(N) * j] = s - b[r];  // the GEMM's W x
          mx = std::max(mx, s);
        }
        for (int r = 0; r < N; ++r) sum += std::exp(want[r + static_cast<size_t>(N) * j] - mx);
        for (int r = 0; r < N; ++r)
          want[r + static_cast<size_t>(N) * j] =
              std::exp(want[r + static_cast<size_t>(N) * j] - mx) / sum;
      }
      cuda::StepState st;
      cuda::HostExec ex;
      const cuda::SoftmaxForward<double> body{W.data(), b.data(), N,        K,        X.data(), K,
                                              m,        have_z,   z.data(), a.data(), &st};
      EXPECT_EQ(body.threads(), N <= 32 ? 32 : N <= 64 ? 64 : 1024);
      ex.run(body);
      EXPECT_LE(rel_error(a, want), 1e-12);
    }
  }
}

// ---- The nets of cuda_cases.h's net_cases(), against the float64 CPU engine ----

// What net_cases() leaves out: a conv whose input gradient crosses stride and padding (not the
// first layer), a stride that leaves input rows uncovered, layers of odd sizes, a hidden layer
// wider than a block (strided partials in the block sums), a softmax wider than a warp.
std::vector<NetCase> extra_cases() {
  using A = Activation;
  return {
      {"conv stride 3 leaving a row out, odd fc",
       stack({1, 14, 14}, "conv:3:3:1:1,conv:4:4:3,fc:11,softmax:10",
             {A::kRelu, A::kTanh, A::kSigmoid}, Cost::kLogLikelihood)},
      {"conv stride 2 pad 1 after a conv, maxpool",
       stack({2, 11, 11}, "conv:3:3:1:1,conv:4:3:2:1,maxpool:2,fc:13,softmax:10",
             {A::kSigmoid, A::kRelu, A::kTanh}, Cost::kLogLikelihood)},
      {"dense wide and odd, in-place dropout",
       dense({35, 300, 17, 40}, {A::kRelu, A::kTanh, A::kSoftmax}, Cost::kLogLikelihood), 0.2},
  };
}

std::vector<NetCase> all_cases() {
  std::vector<NetCase> c = net_cases();
  for (NetCase& e : extra_cases()) c.push_back(std::move(e));
  return c;
}

// Whether CPU layer i (stack layer, or dense weight layer) carries a dropout mask.
bool masked_layer(const Network& net, double unit_dropout, int i) {
  return net.spec(i).kind == LayerKind::kDropout || (unit_dropout > 0 && drops_in_place(net, i));
}

// Copies the host net's masks (of its last forward) into the CPU workspace.
template <class T, class U>
void copy_masks(const Network& net, double unit_dropout, cuda::NetRunner<T, cuda::HostExec>& h,
                int m, WorkspaceT<U>* ws) {
  for (int i = 0; i < layer_count(net); ++i) {
    if (!masked_layer(net, unit_dropout, i)) continue;
    std::vector<T> mk(ws->mask[i].rows() * static_cast<size_t>(m));
    h.get_mask(i, m, mk.data());
    for (size_t k = 0; k < mk.size(); ++k) ws->mask[i].data()[k] = static_cast<U>(mk[k]);
  }
}

struct Batch {
  std::vector<double> x;  // (inputs, m)
  std::vector<uint8_t> labels;
};

Batch random_batch(int inputs, int m, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Batch b;
  b.x.resize(static_cast<size_t>(inputs) * m);
  for (double& v : b.x) v = u(rng);
  b.labels.resize(m);
  for (int j = 0; j < m; ++j) b.labels[j] = static_cast<uint8_t>(rng() % 10);
  return b;
}

// One batch through the host-executed kernels (T) and the float64 CPU engine with the kernels'
// dropout masks: the worst relative error of any layer's activations and of any weight layer's
// gradient (W and b together).
template <class T>
void compare_with_float64(const NetCase& c, double* act_err, double* grad_err) {
  Network net(c.arch);
  init_params(net, Init::kDefault, 7);
  const int m = 5, in = net.inputs();
  const Batch batch = random_batch(in, m, 11);

  NetworkT<T> netT = convert<T>(net);
  std::unique_ptr<HostNet<T>> hn;
  ASSERT_TRUE(HostNet<T>::create(netT, m, c.unit_dropout, 5, &hn).ok());
  auto& h = hn->net();
  std::vector<T> xT(batch.x.begin(), batch.x.end());
  const bool training = has_masks(net, c.unit_dropout);
  h.forward_host(xT.data(), m, training, 42);
  h.backward_host(batch.labels.data(), m);

  NetworkD ref = convert<double>(net);
  WorkspaceT<double> ws = make_workspace(ref, m);
  if (training) copy_masks(net, c.unit_dropout, h, m, &ws);
  Eigen::Map<const MatrixT<double>> X(batch.x.data(), in, m);
  MatrixT<double> Y = MatrixT<double>::Zero(net.outputs(), m);
  for (int j = 0; j < m; ++j) Y(batch.labels[j], j) = 1;
  forward(ref, X, m, ws, training);
  std::vector<double> grad(ref.params().size(), 0.0);
  backward(ref, X, Y, m, ws, grad.data(), training);

  *act_err = 0;
  for (int i = 0; i < layer_count(net); ++i) {
    const size_t n = ws.a[i].rows() * static_cast<size_t>(m);
    std::vector<T> got(n);
    h.get_activations(i, m, got.data());
    std::vector<double> g(got.begin(), got.end()), r(ws.a[i].data(), ws.a[i].data() + n);
    *act_err = std::max(*act_err, rel_error(g, r));
  }
  std::vector<T> gT(ref.params().size());
  h.get_gradient(gT.data());
  *grad_err = 0;
  for (int l = 0; l < net.layers(); ++l) {
    const size_t b = net.weight_offset(l), e = net.bias_offset(l) + net.rows(l);
    std::vector<double> g(gT.begin() + b, gT.begin() + e), r(grad.begin() + b, grad.begin() + e);
    *grad_err = std::max(*grad_err, rel_error(g, r));
  }
}

TEST(CudaHostLayers, FloatKernelsMatchFloat64) {
  for (const NetCase& c : all_cases()) {
    SCOPED_TRACE(c.name);
    double act = 0, grad = 0;
    ASSERT_NO_FATAL_FAILURE(compare_with_float64<float>(c, &act, &grad));
    std::printf(
        "  float32 kernels on the host vs float64: %-38s activations %.2e  gradients %.2e\n",
        c.name, act, grad);
    EXPECT_LE(act, 1e-5);
    EXPECT_LE(grad, 1e-5);
  }
}

// The same kernels in double: any indexing slip shows far above rounding.
TEST(CudaHostLayers, DoubleKernelsMatchTheCpuToRounding) {
  for (const NetCase& c : all_cases()) {
    SCOPED_TRACE(c.name);
    double act = 0, grad = 0;
    ASSERT_NO_FATAL_FAILURE(compare_with_float64<double>(c, &act, &grad));
    std::printf(
        "  float64 kernels on the host vs float64: %-38s activations %.2e  gradients %.2e\n",
        c.name, act, grad);
    EXPECT_LE(act, 1e-12);
    EXPECT_LE(grad, 1e-12);
  }
}

// Central differences of the kernels' own cost against their backward pass, in double.
TEST(CudaHostLayers, GradientCheckThroughTheKernels) {
  for (const NetCase& c : all_cases()) {
    SCOPED_TRACE(c.name);
    Network net(c.arch);
    init_params(net, Init::kDefault, 3);
    NetworkD d = convert<double>(net);
    const int m = 4;
    Batch batch = random_batch(net.inputs(), m, 5);
    std::unique_ptr<HostNet<double>> hn;
    ASSERT_TRUE(HostNet<double>::create(d, m, c.unit_dropout, 9, &hn).ok());
    auto& h = hn->net();
    const bool training = has_masks(net, c.unit_dropout);
    h.forward_host(batch.x.data(), m, training, 7);
    h.backward_host(batch.labels.data(), m);
    std::vector<double> g(d.params().size());
    h.get_gradient(g.data());
    double worst = 0;
    std::vector<double> p = d.params();
    std::mt19937 rng(5);
    const double eps = 1e-6;
    for (int l = 0; l < net.layers(); ++l) {
      const size_t b = net.weight_offset(l), e = net.bias_offset(l) + net.rows(l);
      for (int k = 0; k < 12; ++k) {
        const size_t i = b + rng() % (e - b);
        const double keep = p[i];
        p[i] = keep + eps;
        h.set_params(p.data());
        h.forward_host(batch.x.data(), m, training, 7);
        const double up = h.cost_host(batch.labels.data(), m);
        p[i] = keep - eps;
        h.set_params(p.data());
        h.forward_host(batch.x.data(), m, training, 7);
        const double down = h.cost_host(batch.labels.data(), m);
        p[i] = keep;
        const double numeric = (up - down) / (2 * eps);
        const double err =
            std::abs(numeric - g[i]) / std::max(1e-6, std::abs(numeric) + std::abs(g[i]));
        worst = std::max(worst, err);
      }
    }
    std::printf("  gradient check through the kernels: %-38s worst relative error %.2e\n", c.name,
                worst);
    EXPECT_LE(worst, 1e-5);
  }
}

// ---- Dropout masks ----

TEST(CudaHostDropout, MasksAreKeyedBySeedAndStepAndDropAboutP) {
  for (const NetCase& c : all_cases()) {
    Network net(c.arch);
    if (!has_masks(net, c.unit_dropout)) continue;
    SCOPED_TRACE(c.name);
    init_params(net, Init::kDefault, 7);
    const int m = 64;
    const Batch batch = random_batch(net.inputs(), m, 1);
    std::vector<float> x(batch.x.begin(), batch.x.end());
    // Masks of (seed, step): each dropout layer's, as drawn by a forward pass.
    auto masks = [&](uint32_t seed, long long step) {
      std::unique_ptr<HostNet<float>> hn;
      EXPECT_TRUE(HostNet<float>::create(net, m, c.unit_dropout, seed, &hn).ok());
      hn->net().forward_host(x.data(), m, true, step);
      std::vector<std::vector<float>> out;
      for (int i = 0; i < layer_count(net); ++i) {
        if (!masked_layer(net, c.unit_dropout, i)) continue;
        const int size = hn->net().plan().layers[i].size;
        out.emplace_back(static_cast<size_t>(size) * m);
        hn->net().get_mask(i, m, out.back().data());
      }
      return out;
    };
    const auto a = masks(5, 42);
    EXPECT_EQ(a, masks(5, 42));
    EXPECT_NE(a, masks(5, 43));
    EXPECT_NE(a, masks(6, 42));
    int k = 0;
    for (int i = 0; i < layer_count(net); ++i) {
      if (!masked_layer(net, c.unit_dropout, i)) continue;
      const bool layer = net.spec(i).kind == LayerKind::kDropout;
      const double p = layer ? net.spec(i).drop : c.unit_dropout;
      const bool inverted = layer ? net.spec(i).inverted : true;
      const float keep = inverted ? static_cast<float>(1.0 / (1.0 - p)) : 1.0f;
      const std::vector<float>& mk = a[k++];
      long dropped = 0;
      for (size_t e = 0; e < mk.size(); ++e) {
        ASSERT_TRUE(mk[e] == 0.0f || mk[e] == keep) << mk[e];
        dropped += mk[e] == 0.0f;
        // Element e of plan layer i is draw (seed, step, (i << 40) + e).
        const bool drop =
            cuda::dropout_uniform(5, 42, (static_cast<unsigned long long>(i) << 40) + e) < p;
        ASSERT_EQ(mk[e] == 0.0f, drop) << "layer " << i << " element " << e;
      }
      const double n = static_cast<double>(mk.size());
      const double share = static_cast<double>(dropped) / n;
      std::printf("  %-38s layer %d: dropped %.3f of %zu units (p = %.2f)\n", c.name, i, share,
                  mk.size(), p);
      EXPECT_NEAR(share, p, 4 * std::sqrt(p * (1 - p) / n));
    }
  }
}

// ---- The update rule ----

TEST(CudaHostUpdate, SgdUpdateIsApplyUpdate) {
  struct Rule {
    const char* name;
    SgdRule rule;
  } rules[] = {
      {"plain", {0.05, 1.0, 0.0, 0.0}},    {"L2", {0.05, 0.9, 0.0, 0.0}},
      {"L1", {0.05, 1.0, 0.01, 0.0}},      {"L1 and L2", {0.05, 0.95, 0.01, 0.0}},
      {"momentum", {0.05, 1.0, 0.0, 0.7}}, {"momentum, L1 and L2", {0.05, 0.9, 0.01, 0.7}},
  };
  const NetCase c = net_cases()[3];  // conv, pool, fc, softmax: weights and biases of each kind
  for (const Rule& r : rules) {
    SCOPED_TRACE(r.name);
    for (const bool dbl : {false, true}) {
      Network net(c.arch);
      init_params(net, Init::kDefault, 2);
      const int m = 8;
      const size_t n = net.params().size();
      std::mt19937 rng(4);
      std::normal_distribution<double> nd(0.0, 1.0);
      std::vector<double> g(n), v(n);
      for (double& x : g) x = nd(rng);
      for (double& x : v) x = nd(rng);
      // The rule as a step reads it: eta and m, not eta / m.
      cuda::StepState st;
      st.eta = r.rule.step * m;
      st.decay = r.rule.decay;
      st.l1 = r.rule.l1;
      st.mu = r.rule.momentum;
      st.step = 3;
      cuda::Plan plan;
      ASSERT_TRUE(cuda::make_plan(net, 0.0, 0, &plan).ok());
      SgdRule rule = r.rule;
      rule.step = st.eta / m;
      auto check = [&](auto zero) {
        using T = decltype(zero);
        NetworkT<T> cpu = convert<T>(net);
        std::vector<T> p = cpu.params(), gT(g.begin(), g.end()), vT(v.begin(), v.end()), vcpu = vT;
        apply_update(cpu, gT.data(), rule, vcpu.data());
        cuda::HostExec ex;
        ex.run(cuda::SgdUpdate<T>{p.data(), gT.data(), vT.data(), n, plan.bounds, m, &st});
        EXPECT_EQ(st.step, 4);
        for (size_t i = 0; i < n; ++i) {
          ASSERT_NEAR(p[i], cpu.params()[i],
                      4 * std::numeric_limits<T>::epsilon() * (1 + std::abs(cpu.params()[i])))
              << "parameter " << i << (dbl ? " (double)" : " (float)");
          if (r.rule.momentum > 0) {
            ASSERT_NEAR(vT[i], vcpu[i],
                        4 * std::numeric_limits<T>::epsilon() * (1 + std::abs(vcpu[i])))
                << "velocity " << i;
          }
        }
      };
      if (dbl)
        check(0.0);
      else
        check(0.0f);
    }
  }
}

// ---- Training steps: gather, forward, backward, norms, probe, update, step after step ----

Dataset random_dataset(int pixels, size_t n, uint32_t seed) {
  Dataset d;
  d.rows = 1;
  d.cols = pixels;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  d.images.resize(n * pixels);
  for (float& v : d.images) v = u(rng);
  for (size_t i = 0; i < n; ++i) d.labels.push_back(static_cast<uint8_t>(rng() % 10));
  return d;
}

// The CPU's gradient (float64) of the batch at positions [begin, begin + m) of `order`, with the
// host net's masks of its last step.
template <class T>
std::vector<double> cpu_gradient(const NetworkD& ref, const Dataset& d,
                                 const std::vector<uint32_t>& order, size_t begin, int m,
                                 double unit_dropout, cuda::NetRunner<T, cuda::HostExec>& h,
                                 const Network& shape) {
  const int in = ref.inputs();
  MatrixT<double> X(in, m), Y = MatrixT<double>::Zero(ref.outputs(), m);
  for (int j = 0; j < m; ++j) {
    const uint32_t idx = order[begin + j];
    for (int k = 0; k < in; ++k) X(k, j) = d.image(idx)[k];
    Y(d.labels[idx], j) = 1;
  }
  WorkspaceT<double> ws = make_workspace(ref, m);
  const bool training = has_masks(shape, unit_dropout);
  if (training) copy_masks(shape, unit_dropout, h, m, &ws);
  forward(ref, X, m, ws, training);
  std::vector<double> grad(ref.params().size(), 0.0);
  backward(ref, X, Y, m, ws, grad.data(), training);
  return grad;
}

// Two epochs of steps (the last batch partial, a reshuffle between epochs) through the host
// kernels in double, beside the CPU's forward, backward and apply_update with the same masks.
TEST(CudaHostSteps, StepsFollowTheCpuWithMomentumL1AndL2) {
  for (const NetCase& c : all_cases()) {
    SCOPED_TRACE(c.name);
    Network net(c.arch);
    init_params(net, Init::kDefault, 8);
    const Dataset d = random_dataset(net.inputs(), 23, 3);
    const int batch = 6;  // 4 batches: 6, 6, 6, 5
    NetworkD cpu = convert<double>(net);
    std::unique_ptr<HostNet<double>> hn;
    ASSERT_TRUE(HostNet<double>::create(cpu, batch, c.unit_dropout, 12, &hn).ok());
    auto& h = hn->net();
    h.set_training(d);
    const double eta = 0.2, decay = 0.99, l1 = 0.001, mu = 0.5;
    h.set_rule(eta, decay, l1, mu);
    std::vector<double> velocity(cpu.params().size(), 0.0);
    std::vector<uint32_t> order(d.size());
    std::iota(order.begin(), order.end(), 0u);
    std::mt19937 rng(1);
    double worst = 0;
    long long global = 0;
    for (int epoch = 0; epoch < 2; ++epoch) {
      std::shuffle(order.begin(), order.end(), rng);
      h.set_order(order);
      h.set_position(global, 0);
      for (size_t b = 0; b * batch < d.size(); ++b, ++global) {
        const int m = static_cast<int>(std::min<size_t>(batch, d.size() - b * batch));
        // As the CUDA backend positions a run resumed mid-epoch: batch 2 of the epoch next.
        if (epoch == 1 && b == 2) h.set_position(global, 2);
        h.step(m, batch, false, false);
        EXPECT_EQ(h.state().step, global + 1);
        const std::vector<double> grad =
            cpu_gradient(cpu, d, order, b * batch, m, c.unit_dropout, h, net);
        apply_update(cpu, grad.data(), SgdRule{eta / m, decay, l1, mu}, velocity.data());
        std::vector<double> p(cpu.params().size()), v(p.size());
        h.get_params(p.data());
        h.get_velocity(v.data());
        worst = std::max({worst, rel_error(p, cpu.params()), rel_error(v, velocity)});
      }
    }
    EXPECT_EQ(h.sync_bad_step(), -1);
    std::printf("  8 steps through the host kernels vs the CPU: %-38s parameters %.2e\n", c.name,
                worst);
    EXPECT_LE(worst, 1e-12);
  }
}

// --record-gradients: per step and weight layer, |dC/db| / m and |dC/dW| / m in the slot of the
// batch in the epoch, against the CPU's gradient of the same batch.
TEST(CudaHostSteps, GradientNormsMatchTheCpus) {
  for (const NetCase& c : all_cases()) {
    SCOPED_TRACE(c.name);
    Network net(c.arch);
    init_params(net, Init::kDefault, 6);
    const Dataset d = random_dataset(net.inputs(), 20, 9);
    const int batch = 7;  // 7, 7, 6
    std::unique_ptr<HostNet<float>> hn;
    ASSERT_TRUE(HostNet<float>::create(net, batch, c.unit_dropout, 3, &hn).ok());
    auto& h = hn->net();
    h.set_training(d);
    h.set_rule(0.1, 1.0, 0.0, 0.0);
    std::vector<uint32_t> order(d.size());
    std::iota(order.rbegin(), order.rend(), 0u);
    h.set_order(order);
    const long long first = 17;  // a later epoch: the slots count from its first batch
    h.set_position(first, 0);
    NetworkD cpu = convert<double>(net);
    std::vector<double> want;
    const int L = net.layers();
    for (size_t b = 0; b * batch < d.size(); ++b) {
      const int m = static_cast<int>(std::min<size_t>(batch, d.size() - b * batch));
      // The CPU follows the host's parameters (float) so both take the same gradient.
      std::vector<float> p(net.params().size());
      h.get_params(p.data());
      for (size_t i = 0; i < p.size(); ++i) cpu.params()[i] = p[i];
      h.step(m, batch, false, true);
      const std::vector<double> g =
          cpu_gradient(cpu, d, order, b * batch, m, c.unit_dropout, h, net);
      std::vector<double> row(2 * L);
      for (int l = 0; l < L; ++l) {
        double sb = 0, sw = 0;
        for (size_t i = net.bias_offset(l); i < net.bias_offset(l) + net.rows(l); ++i)
          sb += g[i] * g[i];
        for (size_t i = net.weight_offset(l); i < net.bias_offset(l); ++i) sw += g[i] * g[i];
        row[l] = std::sqrt(sb) / m;
        row[L + l] = std::sqrt(sw) / m;
      }
      want.insert(want.end(), row.begin(), row.end());
    }
    std::vector<double> got;
    h.get_norms(0, 3, &got);
    ASSERT_EQ(got.size(), want.size());
    for (size_t k = 0; k < got.size(); ++k)
      EXPECT_NEAR(got[k], want[k], 1e-5 * want[k] + 1e-12)
          << "batch " << k / (2 * L) << " entry " << k % (2 * L);
  }
}

// The probe's kernels against engine/tally.h's tally_batch of the same step's activations and dC/dz
// (what the CPU backend tallies), folded as the CUDA backend folds them, over several steps.
TEST(CudaHostSteps, ProbeEvidenceIsTallyBatchs) {
  for (const NetCase& c : all_cases()) {
    SCOPED_TRACE(c.name);
    Network net(c.arch);
    init_params(net, Init::kLarge, 2);  // large weights: saturated and pinned units to count
    const Dataset d = random_dataset(net.inputs(), 30, 4);
    const int batch = 8;  // 8, 8, 8, 6
    std::unique_ptr<HostNet<float>> hn;
    ASSERT_TRUE(HostNet<float>::create(net, batch, c.unit_dropout, 3, &hn).ok());
    auto& h = hn->net();
    h.set_training(d);
    h.set_rule(0.5, 1.0, 0.0, 0.0);
    std::vector<uint32_t> order(d.size());
    std::iota(order.begin(), order.end(), 0u);
    std::shuffle(order.begin(), order.end(), std::mt19937(2));
    h.set_order(order);
    h.set_position(4, 0);
    const int batches = 4;
    h.reset_probe(batches, batch);
    ProbeTally want;
    want.reset(net);
    std::vector<std::pair<int, int>> probed;  // (batch, m)
    const int L = net.layers();
    for (int b = 0; b < batches; ++b) {
      const int m = std::min(batch, static_cast<int>(d.size()) - b * batch);
      const bool probe = b != 1;  // slots stay consecutive across an unprobed step
      h.step(m, batch, probe, false);
      if (!probe) continue;
      probed.push_back({b, m});
      const cuda::Buffers<float>& ws = h.train_buffers();
      std::vector<const float*> out(L), delta(L);
      for (int l = 0; l < L; ++l) {
        const int i = net.stack_layer(l);
        out[l] = ws.a[i];
        delta[l] = ws.delta[i];
      }
      tally_batch(net, ws.a.back(), out, delta, ws.y, m, &want);
    }
    EXPECT_EQ(h.state().probe_count, 3);
    std::vector<uint8_t> argmax;
    std::vector<double> cost, bias_norms;
    std::vector<int> pinned;
    ProbeTally got;
    got.reset(net);
    h.get_probe(static_cast<int>(probed.size()), batch, &argmax, &cost, &pinned, &got.active,
                &got.sat_count, &bias_norms);
    const bool sigmoid_out = h.plan().layers.back().act == cuda::kSigmoid;
    for (size_t k = 0; k < probed.size(); ++k) {
      const auto [b, m] = probed[k];
      for (int j = 0; j < m; ++j) {
        const size_t at = k * batch + j;
        const int label = d.labels[order[b * batch + j]];
        ++got.predicted[argmax[at]];
        got.correct += argmax[at] == label;
        got.cost_sum += cost[at];
        got.cost_sq_sum += cost[at] * cost[at];
        if (sigmoid_out) {
          got.pinned += pinned[at];
          got.outputs_seen += net.outputs();
        }
      }
      got.seen += m;
      for (int l = 0; l < L; ++l) got.bias_norm_sum[l] += bias_norms[k * L + l];
      ++got.batches;
    }
    EXPECT_EQ(got.seen, want.seen);
    EXPECT_EQ(got.correct, want.correct);
    EXPECT_EQ(got.predicted, want.predicted);
    EXPECT_EQ(got.pinned, want.pinned);
    EXPECT_EQ(got.outputs_seen, want.outputs_seen);
    EXPECT_NEAR(got.cost_sum, want.cost_sum, 1e-12 * want.cost_sum);
    EXPECT_NEAR(got.cost_sq_sum, want.cost_sq_sum, 1e-12 * want.cost_sq_sum);
    for (int l = 0; l + 1 < L; ++l) {
      const int act = h.plan().layers[h.plan().weight_stack[l]].act;
      if (act == cuda::kRelu) {
        EXPECT_EQ(got.active[l], want.active[l]) << "layer " << l;
      } else if (act == cuda::kSigmoid || act == cuda::kTanh) {
        EXPECT_EQ(got.sat_count[l], want.sat_count[l]) << "layer " << l;
      }
    }
    for (int l = 0; l < L; ++l)
      EXPECT_NEAR(got.bias_norm_sum[l], want.bias_norm_sum[l], 1e-12 * want.bias_norm_sum[l])
          << "layer " << l;
    long sat = 0, on = 0;
    for (const auto& v : want.sat_count) sat += std::accumulate(v.begin(), v.end(), 0L);
    for (const auto& v : want.active) on += std::accumulate(v.begin(), v.end(), 0L);
    std::printf("  probe: %-46s %ld samples, %ld correct, %ld pinned, %ld saturated, %ld active\n",
                c.name, want.seen, want.correct, want.pinned, sat, on);
  }
}

// ---- Evaluation: the GEMM path (batches over 64), in pieces, against the CPU ----

TEST(CudaHostEvaluate, ScoresMatchTheCpuInPieces) {
  for (const NetCase& c : all_cases()) {
    SCOPED_TRACE(c.name);
    Network net(c.arch);
    init_params(net, Init::kDefault, 5);
    const Dataset d = random_dataset(net.inputs(), 300, 8);
    NetworkD ref = convert<double>(net);
    WorkspaceT<double> ws = make_workspace(ref, static_cast<int>(d.size()));
    MatrixT<double> X(net.inputs(), d.size());
    for (size_t j = 0; j < d.size(); ++j)
      for (int k = 0; k < net.inputs(); ++k) X(k, j) = d.image(j)[k];
    forward(ref, X, static_cast<int>(d.size()), ws, false);
    for (const bool dbl : {false, true}) {
      SCOPED_TRACE(dbl ? "double" : "float");
      std::vector<uint8_t> argmax;
      std::vector<double> cost;
      auto run = [&](auto hn) {
        // Pieces of about 130 samples: two over 64 (the GEMM path), one under.
        size_t per = 0;
        for (const cuda::Layer& L : hn->net().plan().layers)
          per += 4 * static_cast<size_t>(L.size) * (dbl ? sizeof(double) : sizeof(float));
        hn->net().set_eval_bytes(130 * per);
        hn->net().evaluate(d, &argmax, &cost);
      };
      if (dbl) {
        std::unique_ptr<HostNet<double>> hn;
        ASSERT_TRUE(HostNet<double>::create(ref, 1, 0.0, 0, &hn).ok());
        run(std::move(hn));
      } else {
        std::unique_ptr<HostNet<float>> hn;
        ASSERT_TRUE(HostNet<float>::create(net, 1, 0.0, 0, &hn).ok());
        run(std::move(hn));
      }
      ASSERT_EQ(argmax.size(), d.size());
      double worst = 0;
      int differ = 0;
      for (size_t j = 0; j < d.size(); ++j) {
        const double* a = ws.a.back().col(j).data();
        int arg = 0;
        for (int k = 1; k < net.outputs(); ++k)
          if (a[k] > a[arg]) arg = k;
        differ += argmax[j] != arg;
        const double want = sample_cost(net.arch().cost, a, net.outputs(), d.labels[j]);
        worst = std::max(worst, std::abs(cost[j] - want) / std::max(1.0, std::abs(want)));
      }
      EXPECT_EQ(differ, 0);
      EXPECT_LE(worst, dbl ? 1e-12 : 1e-5);
    }
  }
}

// ---- A step whose output error is not finite halts every later kernel ----

TEST(CudaHostSteps, ANonFiniteOutputErrorHaltsTheRest) {
  const NetCase c = net_cases()[3];
  Network net(c.arch);
  init_params(net, Init::kDefault, 1);
  const Dataset d = random_dataset(net.inputs(), 12, 2);
  std::unique_ptr<HostNet<float>> hn;
  ASSERT_TRUE(HostNet<float>::create(net, 4, 0.0, 1, &hn).ok());
  auto& h = hn->net();
  h.set_training(d);
  h.set_rule(0.1, 1.0, 0.0, 0.5);
  std::vector<uint32_t> order(d.size());
  std::iota(order.begin(), order.end(), 0u);
  h.set_order(order);
  h.set_position(10, 0);
  h.step(4, 4, false, false);
  EXPECT_TRUE(h.params_finite());
  // A NaN weight in the softmax layer: every output of the next step is NaN.
  std::vector<float> p(h.param_count());
  h.get_params(p.data());
  p[net.weight_offset(net.layers() - 1)] = std::nanf("");
  h.set_params(p.data());
  h.step(4, 4, false, false);
  h.step(4, 4, false, false);
  EXPECT_EQ(h.sync_bad_step(), 11);
  EXPECT_EQ(h.state().step, 13);  // the counter still advances
  std::vector<float> after(p.size());
  h.get_params(after.data());
  EXPECT_EQ(std::memcmp(after.data(), p.data(), p.size() * sizeof(float)), 0)
      << "a halted step changed the parameters";
  EXPECT_FALSE(h.params_finite());
}

}  // namespace
}  // namespace nnet
