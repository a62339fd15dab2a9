// The fast float path (vector kernels: fused bias+activation forward, gradient formed and applied
// in one pass) against the portable double path (Eigen forward/backward into a gradient buffer,
// then apply_update), over shapes that exercise every tile tail, each activation/cost pairing and
// each update rule. Also: divergence leaves the parameters alone, and training is deterministic.
// Runs in well under a second.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "nnet/network.h"
#include "nn/workspace.h"
#include "nnet/train.h"

namespace nnet {
namespace {

struct Case {
  std::vector<int> sizes;
  Activation hidden;
  Cost cost;
  int m;
  double lambda_decay;  // SgdRule.decay
  double l1;
  double momentum;
  bool dropout;
};

std::string describe(const Case& c) {
  std::string s = "sizes";
  for (int v : c.sizes) s += " " + std::to_string(v);
  return s + " hidden " + name(c.hidden) + " cost " + name(c.cost) + " m " + std::to_string(c.m) +
         " decay " + std::to_string(c.lambda_decay) + " l1 " + std::to_string(c.l1) + " mu " +
         std::to_string(c.momentum) + (c.dropout ? " dropout" : "");
}

Architecture make_arch(const Case& c) {
  Architecture a;
  a.sizes = c.sizes;
  a.cost = c.cost;
  for (size_t l = 0; l + 2 < c.sizes.size(); ++l) a.activations.push_back(c.hidden);
  a.activations.push_back(c.cost == Cost::kLogLikelihood ? Activation::kSoftmax
                                                         : Activation::kSigmoid);
  return a;
}

// Runs 3 SGD steps in float (fast path) and in double (portable path) from the same start and
// compares the parameter changes.
void check_case(const Case& c) {
  SCOPED_TRACE(describe(c));
  const Architecture arch = make_arch(c);
  Network nf(arch);
  init_params(nf, Init::kDefault, 7);
  NetworkD nd(arch);
  for (size_t i = 0; i < nf.params().size(); ++i) nd.params()[i] = nf.params()[i];
  const std::vector<float> start = nf.params();

  const int in = c.sizes.front();
  std::mt19937 g(3);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::vector<float> images(static_cast<size_t>(in) * c.m * 3);  // (in, 3m): 3 batches
  for (float& v : images) v = u(g);
  std::vector<double> images_d(images.begin(), images.end());
  std::vector<uint8_t> labels(c.m * 3);
  for (auto& l : labels) l = static_cast<uint8_t>(g() % 10);

  std::vector<float> vf(nf.params().size(), 0.f);
  std::vector<double> vd(nd.params().size(), 0.0);
  for (size_t i = 0; i < vf.size(); ++i) vd[i] = vf[i] = 0.01f * static_cast<float>(i % 7) - 0.03f;

  Workspace wf = make_workspace(nf, c.m);
  WorkspaceT<double> wd = make_workspace(nd, c.m);
  SgdRule rule;
  rule.step = 0.5 / c.m;
  rule.decay = c.lambda_decay;
  rule.l1 = c.l1;
  rule.momentum = c.momentum;
  for (int step = 0; step < 3; ++step) {
    std::vector<const float*> xf(c.m);
    std::vector<const double*> xd(c.m);
    for (int j = 0; j < c.m; ++j) {
      // Columns out of order, as a shuffle hands them over.
      const size_t col = static_cast<size_t>(step) * c.m + (c.m - 1 - j);
      xf[j] = images.data() + col * in;
      xd[j] = images_d.data() + col * in;
    }
    if (c.dropout) {
      for (size_t l = 0; l + 1 < wf.mask.size(); ++l) {
        for (Eigen::Index k = 0; k < wf.mask[l].size(); ++k) {
          const float s = (g() % 3 == 0) ? 0.f : 1.5f;
          wf.mask[l].data()[k] = s;
          wd.mask[l].data()[k] = s;
        }
      }
    }
    const uint8_t* lab = labels.data() + step * c.m;
    ASSERT_TRUE(sgd_step(nf, xf.data(), lab, c.m, wf, rule, vf.data(), c.dropout));
    ASSERT_TRUE(sgd_step(nd, xd.data(), lab, c.m, wd, rule, vd.data(), c.dropout));
  }
  // Changes, not values: an error in the update would be hidden in the parameters' size.
  double max_change = 0;
  for (size_t i = 0; i < start.size(); ++i)
    max_change = std::max(max_change, std::abs(nd.params()[i] - start[i]));
  ASSERT_GT(max_change, 1e-3) << "the steps should move the parameters";
  for (size_t i = 0; i < start.size(); ++i) {
    const double df = static_cast<double>(nf.params()[i]) - start[i];
    const double dd = nd.params()[i] - start[i];
    ASSERT_NEAR(df, dd, 2e-4 * max_change + 2e-6) << "parameter " << i;
  }
}

TEST(Kernels, NotebookShape) {
  check_case({{784, 30, 10}, Activation::kSigmoid, Cost::kQuadratic, 10, 1, 0, 0, false});
}

TEST(Kernels, TileTailsAndBatchSizes) {
  // Rows 37 = 32 + 5 and 17 = 16 + 1 exercise the masked tails; 13 and 1 columns the partial
  // column tiles; 29 inputs the partial k blocks.
  for (int m : {1, 7, 13, 25})
    check_case({{29, 37, 17, 10}, Activation::kSigmoid, Cost::kQuadratic, m, 1, 0, 0, false});
  check_case({{784, 100, 10}, Activation::kSigmoid, Cost::kQuadratic, 100, 1, 0, 0, false});
}

TEST(Kernels, ActivationsAndCosts) {
  check_case({{40, 33, 10}, Activation::kRelu, Cost::kCrossEntropy, 10, 1, 0, 0, false});
  check_case({{40, 33, 10}, Activation::kTanh, Cost::kLogLikelihood, 10, 1, 0, 0, false});
  check_case({{40, 20, 18, 10}, Activation::kLinear, Cost::kQuadratic, 6, 1, 0, 0, false});
}

TEST(Kernels, UpdateRules) {
  check_case({{60, 30, 10}, Activation::kSigmoid, Cost::kCrossEntropy, 10, 0.999, 0, 0, false});
  check_case({{60, 30, 10}, Activation::kSigmoid, Cost::kCrossEntropy, 10, 1, 1e-3, 0, false});
  check_case(
      {{60, 30, 10}, Activation::kSigmoid, Cost::kCrossEntropy, 10, 0.999, 1e-3, 0.9, false});
  check_case({{60, 30, 10}, Activation::kSigmoid, Cost::kQuadratic, 10, 1, 0, 0.5, false});
}

TEST(Kernels, Dropout) {
  check_case({{60, 30, 20, 10}, Activation::kSigmoid, Cost::kCrossEntropy, 10, 1, 0, 0, true});
  check_case({{60, 30, 20, 10}, Activation::kRelu, Cost::kLogLikelihood, 10, 0.999, 0, 0.9, true});
}

TEST(Kernels, ForwardMatchesDouble) {
  const Architecture arch = sigmoid_architecture({784, 30, 10});
  Network nf(arch);
  init_params(nf, Init::kDefault, 1);
  NetworkD nd(arch);
  for (size_t i = 0; i < nf.params().size(); ++i) nd.params()[i] = nf.params()[i];
  std::mt19937 g(5);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  const int m = 500;
  Eigen::MatrixXf x(784, m);  // (784, m)
  for (Eigen::Index k = 0; k < x.size(); ++k) x.data()[k] = u(g);
  Workspace wf = make_workspace(nf, m);
  WorkspaceT<double> wd = make_workspace(nd, m);
  forward(nf, x, m, wf);
  forward(nd, x.cast<double>(), m, wd);
  for (int l = 0; l < 2; ++l) {
    EXPECT_LT((wf.z[l].cast<double>() - wd.z[l]).cwiseAbs().maxCoeff(), 1e-4) << "layer " << l;
    EXPECT_LT((wf.a[l].cast<double>() - wd.a[l]).cwiseAbs().maxCoeff(), 1e-6) << "layer " << l;
  }
}

TEST(Kernels, NonFiniteOutputLeavesParametersAlone) {
  Network net(sigmoid_architecture({784, 30, 10}));
  init_params(net, Init::kDefault, 1);
  net.bias(1)[3] = std::nanf("");
  const std::vector<float> before = net.params();
  std::vector<float> img(784 * 2, 0.5f);
  const float* cols[2] = {img.data(), img.data() + 784};
  const uint8_t labels[2] = {1, 2};
  Workspace ws = make_workspace(net, 2);
  SgdRule rule;
  rule.step = 0.05;
  EXPECT_FALSE(sgd_step<float>(net, cols, labels, 2, ws, rule, nullptr));
  for (size_t i = 0; i < before.size(); ++i)
    if (!std::isnan(before[i])) ASSERT_EQ(net.params()[i], before[i]) << "parameter " << i;
}

// Same seed and thread count: bit-identical weights; evaluation is the same on 1 or 2 threads.
TEST(Kernels, TrainingIsDeterministic) {
  Dataset d;
  std::mt19937 g(11);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  const size_t n = 1200;
  d.images.resize(n * 784);
  d.labels.resize(n);
  for (float& v : d.images) v = u(g);
  for (size_t i = 0; i < n; ++i) d.labels[i] = static_cast<uint8_t>(g() % 10);
  auto run = [&](int threads) {
    Network net(sigmoid_architecture({784, 30, 10}));
    init_params(net, Init::kLarge, 1);
    TrainOptions o;
    o.epochs = 2;
    o.eta = 0.1;
    o.threads = threads;
    TrainState st = initial_state(net, n, o);
    EXPECT_TRUE(train(net, d, &d, o, {}, &st).ok());
    return std::make_pair(net.params(), st.history.back().evaluation_correct);
  };
  const auto a = run(1), b = run(1), c = run(2);
  EXPECT_EQ(a.first, b.first);
  EXPECT_EQ(a.first, c.first);
  EXPECT_EQ(a.second, c.second);
}

}  // namespace
}  // namespace nnet
