// The engine's maths: backward() against central differences for every cost x activation pair
// (and dropout with fixed masks), forward() against hand-computed values, and one SGD step with
// L2 / L1 against the update formula. Runtime: ~0.1 s.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "nnet/network.h"
#include "nn/workspace.h"
#include "nnet/train.h"

namespace nnet {
namespace {

using Eigen::MatrixXd;

struct Problem {
  NetworkD net;
  MatrixXd x;               // (inputs, m)
  MatrixXd y;               // (outputs, m) one-hot
  std::vector<int> labels;  // (m)
};

Problem make_problem(Architecture arch, int m, uint32_t seed) {
  Problem p{NetworkD(std::move(arch)), MatrixXd(), MatrixXd(), {}};
  init_params(p.net, Init::kDefault, seed);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  p.x = MatrixXd::NullaryExpr(p.net.inputs(), m, [&] { return u(rng); });
  p.y = MatrixXd::Zero(p.net.outputs(), m);
  for (int j = 0; j < m; ++j) {
    p.labels.push_back(static_cast<int>(rng() % p.net.outputs()));
    p.y(p.labels.back(), j) = 1.0;
  }
  return p;
}

// The summed cost over the m columns, via forward + sample_cost.
double total_cost(const Problem& p, WorkspaceT<double>& ws, bool dropout) {
  const int m = static_cast<int>(p.x.cols()), L = p.net.layers();
  forward(p.net, p.x, m, ws, dropout);
  double c = 0;
  for (int j = 0; j < m; ++j)
    c += sample_cost(p.net.arch().cost, ws.a[L - 1].col(j).data(), p.net.outputs(), p.labels[j]);
  return c;
}

// Largest |analytic - numeric| / max(1, |numeric|) over every parameter.
double gradient_error(Problem& p, bool dropout, const std::vector<MatrixXd>* masks = nullptr) {
  const int m = static_cast<int>(p.x.cols());
  WorkspaceT<double> ws = make_workspace(p.net, m);
  if (masks)
    for (size_t l = 0; l < masks->size(); ++l) ws.mask[l] = (*masks)[l];
  std::vector<double> grad(p.net.params().size(), 0.0);
  forward(p.net, p.x, m, ws, dropout);
  backward(p.net, p.x, p.y, m, ws, grad.data(), dropout);
  const double h = 1e-5;
  double worst = 0;
  for (size_t i = 0; i < grad.size(); ++i) {
    double& w = p.net.params()[i];
    const double keep = w;
    w = keep + h;
    const double up = total_cost(p, ws, dropout);
    w = keep - h;
    const double down = total_cost(p, ws, dropout);
    w = keep;
    const double numeric = (up - down) / (2 * h);
    worst = std::max(worst, std::abs(grad[i] - numeric) / std::max(1.0, std::abs(numeric)));
  }
  return worst;
}

Architecture arch_of(std::vector<int> sizes, Activation hidden, Activation out, Cost cost) {
  Architecture a;
  a.activations.assign(sizes.size() - 1, hidden);
  a.activations.back() = out;
  a.sizes = std::move(sizes);
  a.cost = cost;
  return a;
}

struct Pairing {
  Cost cost;
  Activation out;
};
constexpr Pairing kPairings[] = {{Cost::kQuadratic, Activation::kSigmoid},
                                 {Cost::kQuadratic, Activation::kTanh},
                                 {Cost::kQuadratic, Activation::kLinear},
                                 {Cost::kCrossEntropy, Activation::kSigmoid},
                                 {Cost::kLogLikelihood, Activation::kSoftmax}};
constexpr Activation kHidden[] = {Activation::kSigmoid, Activation::kTanh, Activation::kRelu,
                                  Activation::kLinear};

TEST(GradCheck, EveryCostAndActivation) {
  int checked = 0;
  for (const Pairing& pr : kPairings)
    for (Activation h : kHidden) {
      Architecture a = arch_of({6, 5, 4, 3}, h, pr.out, pr.cost);  // 3 weight layers
      ASSERT_TRUE(validate(a, 6, 3).ok());
      Problem p = make_problem(a, 4, 11 + checked);
      EXPECT_LT(gradient_error(p, false), 1e-6)
          << name(pr.cost) << " / " << name(pr.out) << " out / " << name(h) << " hidden";
      ++checked;
    }
  EXPECT_EQ(checked, 20);
}

TEST(GradCheck, DropoutWithFixedMasks) {
  for (Activation h : kHidden) {
    Architecture a = arch_of({6, 5, 4, 3}, h, Activation::kSigmoid, Cost::kCrossEntropy);
    Problem p = make_problem(a, 4, 5);
    // Inverted dropout with p = 0.5: kept units are scaled by 2, dropped ones are 0.
    std::vector<MatrixXd> masks;
    for (int l = 0; l + 1 < p.net.layers(); ++l) {
      MatrixXd mask(p.net.rows(l), 4);  // (sizes[l+1], m)
      for (Eigen::Index k = 0; k < mask.size(); ++k) mask.data()[k] = (k * 7 + l) % 3 ? 2.0 : 0.0;
      masks.push_back(mask);
    }
    EXPECT_LT(gradient_error(p, true, &masks), 1e-6) << name(h);
    // The masks matter: the dropped units' incoming weights get no gradient at all.
    WorkspaceT<double> ws = make_workspace(p.net, 4);
    for (size_t l = 0; l < masks.size(); ++l) ws.mask[l] = masks[l];
    MatrixXd all_dropped = MatrixXd::Zero(p.net.rows(0), 4);
    ws.mask[0] = all_dropped;
    std::vector<double> grad(p.net.params().size(), 0.0);
    forward(p.net, p.x, 4, ws, true);
    backward(p.net, p.x, p.y, 4, ws, grad.data(), true);
    for (size_t i = p.net.weight_offset(0); i < p.net.weight_offset(1); ++i)
      ASSERT_EQ(grad[i], 0.0) << "layer 0 param " << i;
  }
}

// One layer, W = [[1, -1], [0.5, 2]], b = [0, -1], x = [1, 2]: z = [-1, 3.5].
TEST(Forward, HandComputedValues) {
  struct Case {
    Activation act;
    double a0, a1;  // by hand (Python's math module, printed with repr)
  } cases[] = {
      {Activation::kSigmoid, 0.2689414213699951, 0.9706877692486436},  // 1/(1+e^1), 1/(1+e^-3.5)
      {Activation::kTanh, -0.7615941559557649, 0.9981778976111987},
      {Activation::kRelu, 0.0, 3.5},
      {Activation::kLinear, -1.0, 3.5},
      {Activation::kSoftmax, 0.010986942630593181, 0.9890130573694069},  // e^-1/(e^-1+e^3.5)
  };
  for (const Case& c : cases) {
    Architecture a;
    a.sizes = {2, 2};
    a.activations = {c.act};
    a.cost = c.act == Activation::kSoftmax ? Cost::kLogLikelihood : Cost::kQuadratic;
    NetworkD net(a);
    net.weight(0) << 1, -1, 0.5, 2;
    net.bias(0) << 0, -1;
    MatrixXd x(2, 1);
    x << 1, 2;
    WorkspaceT<double> ws = make_workspace(net, 1);
    forward(net, x, 1, ws);
    EXPECT_DOUBLE_EQ(ws.z[0](0, 0), -1.0);
    EXPECT_DOUBLE_EQ(ws.z[0](1, 0), 3.5);
    EXPECT_NEAR(ws.a[0](0, 0), c.a0, 1e-15) << name(c.act);
    EXPECT_NEAR(ws.a[0](1, 0), c.a1, 1e-15) << name(c.act);
  }
  // The costs of the sigmoid and softmax outputs against label 1, by hand:
  const double sig[] = {0.2689414213699951, 0.9706877692486436};
  const double soft[] = {0.010986942630593181, 0.9890130573694069};
  EXPECT_NEAR(sample_cost(Cost::kQuadratic, sig, 2, 1), 0.03659434750006701, 1e-15);
  EXPECT_NEAR(sample_cost(Cost::kCrossEntropy, sig, 2, 1), 0.3430121057908434, 1e-15);
  EXPECT_NEAR(sample_cost(Cost::kLogLikelihood, soft, 2, 1), 0.011047744848593713, 1e-15);
}

// One full-batch SGD step of train() equals the book's update rule computed here in double:
//   L2: w <- (1 - eta*lambda/n) w - eta/n * sum grad;  L1: w <- w - eta*l1/n sgn(w) - eta/n sum
//   biases: b <- b - eta/n * sum grad (never regularized).
TEST(Regularization, OneStepMatchesTheFormula) {
  struct Case {
    double lambda, l1;
  } cases[] = {{0.0, 0.0}, {0.3, 0.0}, {0.0, 0.2}, {5.0, 0.4}};
  for (const Case& c : cases) {
    const int n = 6;
    Architecture a = sigmoid_architecture({3, 4, 2}, Cost::kCrossEntropy);
    Network net(a);
    init_params(net, Init::kLarge, 3);
    Dataset d;
    d.rows = 1;
    d.cols = 3;
    std::mt19937 rng(9);
    for (int i = 0; i < n * 3; ++i) d.images.push_back(static_cast<float>(rng() % 256) / 256.0f);
    for (int i = 0; i < n; ++i) d.labels.push_back(static_cast<uint8_t>(i % 2));
    // The expected step, in double from the same starting point.
    NetworkD ref(a);
    for (size_t i = 0; i < net.params().size(); ++i) ref.params()[i] = net.params()[i];
    MatrixXd x(3, n), y = MatrixXd::Zero(2, n);  // (inputs, n), (outputs, n)
    for (int j = 0; j < n; ++j) {
      for (int k = 0; k < 3; ++k) x(k, j) = d.image(j)[k];
      y(d.labels[j], j) = 1;
    }
    WorkspaceT<double> ws = make_workspace(ref, n);
    std::vector<double> g(ref.params().size(), 0.0);
    forward(ref, x, n, ws);
    backward(ref, x, y, n, ws, g.data());
    const double eta = 0.5;
    std::vector<double> want(g.size());
    for (int l = 0; l < ref.layers(); ++l) {
      for (size_t i = ref.weight_offset(l); i < ref.bias_offset(l); ++i) {
        const double w = ref.params()[i], sgn = (w > 0) - (w < 0);
        want[i] = (1 - eta * c.lambda / n) * w - eta * c.l1 / n * sgn - eta / n * g[i];
      }
      for (size_t i = ref.bias_offset(l); i < ref.bias_offset(l) + ref.rows(l); ++i)
        want[i] = ref.params()[i] - eta / n * g[i];
    }
    TrainOptions o;
    o.epochs = 1;
    o.batch = n;
    o.eta = eta;
    o.lambda = c.lambda;
    o.l1 = c.l1;
    o.threads = 1;
    TrainState st = initial_state(net, d.size(), o);
    ASSERT_TRUE(train(net, d, nullptr, o, {}, &st).ok());
    for (size_t i = 0; i < want.size(); ++i)
      ASSERT_NEAR(net.params()[i], want[i], 2e-6 * std::max(1.0, std::abs(want[i])))
          << "lambda " << c.lambda << " l1 " << c.l1 << " param " << i;
    // And the step really moved the weights (the test would catch a no-op).
    EXPECT_GT(std::abs(want[0] - ref.params()[0]), 1e-4);
  }
}

}  // namespace
}  // namespace nnet
