// Layer stacks: parsing and shape checks (one-line usage errors), the engine per layer kind
// against central differences in double precision and against hand-computed forwards, a
// conv+pool+dropout+fc+softmax stack, network3 initialisation and the params round trip.
// Runtime: ~1 s.
#include "nnet/layers.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "nnet/network.h"
#include "nn/workspace.h"
#include "nnet/pyrandom.h"
#include "nnet/train.h"

namespace nnet {
namespace {

using Eigen::MatrixXd;

std::vector<LayerSpec> parse_ok(const std::string& s, std::vector<Activation> acts = {}) {
  std::vector<LayerSpec> out;
  Status st = parse_layers(s, acts, &out);
  EXPECT_TRUE(st.ok()) << st.message();
  return out;
}

std::string parse_error(const std::string& s, std::vector<Activation> acts = {}) {
  std::vector<LayerSpec> out;
  Status st = parse_layers(s, acts, &out);
  EXPECT_FALSE(st.ok()) << s;
  EXPECT_EQ(st.code(), Code::kUsage);
  EXPECT_EQ(st.message().find('\n'), std::string::npos);
  return st.message();
}

std::string shape_error(const Shape& in, const std::string& s, int classes = 10) {
  std::vector<Shape> shapes;
  Status st = layer_shapes(in, parse_ok(s), classes, &shapes);
  EXPECT_FALSE(st.ok()) << s;
  EXPECT_EQ(st.code(), Code::kUsage);
  EXPECT_EQ(st.message().find('\n'), std::string::npos);
  return st.message();
}

TEST(ParseLayers, BookStack) {
  auto l =
      parse_ok("conv:20:5,maxpool:2,conv:40:5,maxpool:2,fc:100,softmax:10", {Activation::kRelu});
  ASSERT_EQ(l.size(), 6u);
  EXPECT_EQ(l[0].kind, LayerKind::kConv);
  EXPECT_EQ(l[0].units, 20);
  EXPECT_EQ(l[0].kernel, 5);
  EXPECT_EQ(l[0].stride, 1);
  EXPECT_EQ(l[0].pad, 0);
  EXPECT_EQ(l[0].activation, Activation::kRelu);
  EXPECT_EQ(l[1].kind, LayerKind::kMaxPool);
  EXPECT_EQ(l[1].kernel, 2);
  EXPECT_EQ(l[4].kind, LayerKind::kFullyConnected);
  EXPECT_EQ(l[4].activation, Activation::kRelu);
  EXPECT_EQ(l[5].kind, LayerKind::kSoftmax);
  EXPECT_EQ(l[5].activation, Activation::kSoftmax);
  std::vector<Shape> shapes;
  ASSERT_TRUE(layer_shapes(Shape{1, 28, 28}, l, 10, &shapes).ok());
  const std::vector<Shape> want = {{20, 24, 24}, {20, 12, 12}, {40, 8, 8},
                                   {40, 4, 4},   {100, 1, 1},  {10, 1, 1}};
  EXPECT_EQ(shapes, want);
}

TEST(ParseLayers, OptionsAndRoundTrip) {
  const std::string s = "conv:8:3:2:1,avgpool:2,dropout:0.25,fc:30,dropout:0.5:inverted,softmax:10";
  auto l = parse_ok(s, {Activation::kTanh, Activation::kSigmoid});
  EXPECT_EQ(l[0].stride, 2);
  EXPECT_EQ(l[0].pad, 1);
  EXPECT_EQ(l[0].activation, Activation::kTanh);
  EXPECT_EQ(l[1].kind, LayerKind::kAvgPool);
  EXPECT_EQ(l[2].kind, LayerKind::kDropout);
  EXPECT_DOUBLE_EQ(l[2].drop, 0.25);
  EXPECT_FALSE(l[2].inverted);
  EXPECT_TRUE(l[4].inverted);
  EXPECT_EQ(l[3].activation, Activation::kSigmoid);
  EXPECT_EQ(layers_to_string(l), s);
  EXPECT_EQ(layers_to_string(parse_ok("conv:4:3:1:2,fc:10")), "conv:4:3:1:2,fc:10");
  // network3's default activation.
  EXPECT_EQ(parse_ok("fc:10")[0].activation, Activation::kSigmoid);
}

TEST(ParseLayers, MalformedItemsAreOneLineErrors) {
  EXPECT_NE(parse_error("conv:x:5").find("item 1 \"conv:x:5\""), std::string::npos);
  EXPECT_NE(parse_error("fc:100,conv:20").find("item 2"), std::string::npos);
  parse_error("");
  parse_error("fc:0");
  parse_error("fc:-3");
  parse_error("fc:10,");
  parse_error("maxpool:2:2");
  parse_error("dropout:1");
  parse_error("dropout:0.5:sideways");
  parse_error("dropout:nan");
  parse_error("conv:2:3:0");
  parse_error("lstm:5");
  parse_error("fc:99999999999");
  EXPECT_EQ(parse_error("fc:10,fc:10,softmax:10",
                        {Activation::kRelu, Activation::kRelu, Activation::kRelu})
                .rfind("activation: ", 0),
            0u);  // the library names the option; the CLI says --activation
  parse_error("fc:10,softmax:10", {Activation::kSoftmax});
}

TEST(LayerShapes, ImpossibleStacksNameTheLayer) {
  const Shape mnist{1, 28, 28};
  std::string e = shape_error(mnist, "conv:20:29,softmax:10");
  EXPECT_NE(e.find("layer 1 \"conv:20:29\" on input 1x28x28"), std::string::npos) << e;
  EXPECT_NE(e.find("kernel 29"), std::string::npos) << e;
  e = shape_error(mnist, "conv:20:5,maxpool:5,softmax:10");
  EXPECT_NE(e.find("layer 2 \"maxpool:5\" on input 20x24x24"), std::string::npos) << e;
  EXPECT_NE(e.find("divide"), std::string::npos) << e;
  e = shape_error(mnist, "softmax:10,fc:10");
  EXPECT_NE(e.find("softmax must be the last layer"), std::string::npos) << e;
  e = shape_error(mnist, "fc:30,softmax:5");
  EXPECT_NE(e.find("at least 10"), std::string::npos) << e;
  e = shape_error(mnist, "fc:30,maxpool:1");
  EXPECT_NE(e.find("last layer must be fc:N or softmax:N"), std::string::npos) << e;
  shape_error(mnist, "fc:30,dropout:0.5");
  shape_error(mnist, "conv:20:5,maxpool:2,conv:40:5,maxpool:2,conv:40:5,softmax:10");
  // Padding makes a kernel larger than the raw input possible.
  std::vector<Shape> shapes;
  ASSERT_TRUE(layer_shapes(Shape{1, 3, 3}, parse_ok("conv:2:5:1:1,fc:10"), 10, &shapes).ok());
  EXPECT_EQ(shapes[0], (Shape{2, 1, 1}));
  ASSERT_TRUE(layer_shapes(Shape{3, 7, 7}, parse_ok("conv:2:3:2,fc:10"), 10, &shapes).ok());
  EXPECT_EQ(shapes[0], (Shape{2, 3, 3}));
}

TEST(LayerShapes, ValidateChecksInputAndCost) {
  Architecture a;
  a.input = Shape{1, 28, 28};
  a.layers = parse_ok("conv:4:5,maxpool:2,softmax:10");
  a.cost = Cost::kLogLikelihood;
  EXPECT_TRUE(validate(a, 784, 10).ok());
  EXPECT_EQ(validate(a, 785, 10).code(), Code::kUsage);
  a.cost = Cost::kQuadratic;
  EXPECT_NE(validate(a, 784, 10).message().find("log-likelihood"), std::string::npos);
  a.layers = parse_ok("conv:4:5,maxpool:2,fc:10", {Activation::kRelu});
  EXPECT_TRUE(validate(a, 784, 10).ok());
  a.cost = Cost::kCrossEntropy;
  EXPECT_NE(validate(a, 784, 10).message().find("sigmoid"), std::string::npos);
}

// ---- The engine ----

Architecture stack_arch(Shape input, const std::string& layers, std::vector<Activation> acts,
                        Cost cost) {
  Architecture a;
  a.input = input;
  a.layers = parse_ok(layers, acts);
  a.cost = cost;
  EXPECT_TRUE(validate(a, input.size(), 1).ok()) << validate(a, input.size(), 1).message();
  return a;
}

TEST(NetworkStack, TableAndParamsLayout) {
  NetworkD net(stack_arch(Shape{1, 28, 28},
                          "conv:20:5,maxpool:2,conv:40:5,maxpool:2,fc:100,softmax:10",
                          {Activation::kRelu}, Cost::kLogLikelihood));
  ASSERT_FALSE(net.dense());
  ASSERT_EQ(net.layers(), 4);
  EXPECT_EQ(net.inputs(), 784);
  EXPECT_EQ(net.outputs(), 10);
  EXPECT_EQ(net.arch().sizes, (std::vector<int>{784, 20 * 24 * 24, 40 * 8 * 8, 100, 10}));
  EXPECT_EQ(net.rows(0), 20);
  EXPECT_EQ(net.cols(0), 25);
  EXPECT_EQ(net.rows(1), 40);
  EXPECT_EQ(net.cols(1), 20 * 25);
  EXPECT_EQ(net.cols(2), 40 * 4 * 4);
  EXPECT_EQ(net.stack_layer(2), 4);
  EXPECT_EQ(net.weight_layer(1), -1);
  EXPECT_EQ(net.weight_layer(2), 1);
  EXPECT_EQ(net.input_shape(2), (Shape{20, 12, 12}));
  EXPECT_EQ(net.bias_offset(0), 500u);
  EXPECT_EQ(net.weight_offset(1), 520u);
  EXPECT_EQ(net.params().size(),
            size_t{20 * 25 + 20 + 40 * 500 + 40 + 100 * 640 + 100 + 10 * 100 + 10});
}

struct Problem {
  NetworkD net;
  MatrixXd x;               // (inputs, m)
  MatrixXd y;               // (outputs, m) one-hot
  std::vector<int> labels;  // (m)
};

Problem make_problem(Architecture arch, int m, uint32_t seed, Init init = Init::kDefault) {
  Problem p{NetworkD(std::move(arch)), MatrixXd(), MatrixXd(), {}};
  init_params(p.net, init, seed);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  // Distinct inputs so max pools have no ties.
  p.x = MatrixXd::NullaryExpr(p.net.inputs(), m, [&] { return u(rng); });
  p.y = MatrixXd::Zero(p.net.outputs(), m);
  for (int j = 0; j < m; ++j) {
    p.labels.push_back(static_cast<int>(rng() % p.net.outputs()));
    p.y(p.labels.back(), j) = 1.0;
  }
  return p;
}

double total_cost(const Problem& p, WorkspaceT<double>& ws, bool training) {
  const int m = static_cast<int>(p.x.cols());
  forward(p.net, p.x, m, ws, training);
  double c = 0;
  for (int j = 0; j < m; ++j)
    c += sample_cost(p.net.arch().cost, ws.a.back().col(j).data(), p.net.outputs(), p.labels[j]);
  return c;
}

// Largest |analytic - numeric| / max(1, |numeric|) over every parameter; with `training` the
// dropout masks are drawn once from a fixed Mt19937 and kept for every evaluation.
double gradient_error(Problem& p, bool training) {
  const int m = static_cast<int>(p.x.cols());
  WorkspaceT<double> ws = make_workspace(p.net, m);
  Mt19937 rng;
  rng.init_genrand(7);
  fill_dropout_masks(p.net, ws, m, 0.0, [&] { return rng.next_double53(); });
  std::vector<double> grad(p.net.params().size(), 0.0);
  forward(p.net, p.x, m, ws, training);
  backward(p.net, p.x, p.y, m, ws, grad.data(), training);
  const double h = 1e-5;
  double worst = 0;
  for (size_t i = 0; i < grad.size(); ++i) {
    double& w = p.net.params()[i];
    const double keep = w;
    w = keep + h;
    const double up = total_cost(p, ws, training);
    w = keep - h;
    const double down = total_cost(p, ws, training);
    w = keep;
    const double numeric = (up - down) / (2 * h);
    worst = std::max(worst, std::abs(grad[i] - numeric) / std::max(1.0, std::abs(numeric)));
  }
  return worst;
}

struct GradCase {
  const char* layers;
  Shape input;
  Activation act;
  Cost cost;
  bool training;
};

class StackGradient : public ::testing::TestWithParam<GradCase> {};

TEST_P(StackGradient, MatchesCentralDifferences) {
  const GradCase& c = GetParam();
  Problem p = make_problem(stack_arch(c.input, c.layers, {c.act}, c.cost), 3, 11);
  EXPECT_LT(gradient_error(p, c.training), 1e-7) << c.layers;
}

constexpr Shape kSmall{2, 6, 6};
INSTANTIATE_TEST_SUITE_P(
    EveryKind, StackGradient,
    ::testing::Values(
        GradCase{"conv:3:3,softmax:4", kSmall, Activation::kSigmoid, Cost::kLogLikelihood, false},
        GradCase{"conv:3:3:2,fc:4", kSmall, Activation::kTanh, Cost::kQuadratic, false},
        GradCase{"conv:3:3:1:1,fc:4", kSmall, Activation::kSigmoid, Cost::kCrossEntropy, false},
        GradCase{"conv:2:4:2:2,softmax:3", kSmall, Activation::kTanh, Cost::kLogLikelihood, false},
        GradCase{"conv:3:3,maxpool:2,softmax:4", kSmall, Activation::kTanh, Cost::kLogLikelihood,
                 false},
        GradCase{"conv:3:3,avgpool:2,softmax:4", kSmall, Activation::kSigmoid, Cost::kLogLikelihood,
                 false},
        GradCase{"maxpool:3,fc:5,softmax:4", kSmall, Activation::kTanh, Cost::kLogLikelihood,
                 false},
        GradCase{"fc:7,fc:5,softmax:4", kSmall, Activation::kLinear, Cost::kLogLikelihood, false},
        GradCase{"fc:7,softmax:4", kSmall, Activation::kRelu, Cost::kLogLikelihood, false},
        GradCase{"dropout:0.3,fc:7,dropout:0.5,softmax:4", kSmall, Activation::kTanh,
                 Cost::kLogLikelihood, true},
        GradCase{"dropout:0.3,fc:7,dropout:0.5,softmax:4", kSmall, Activation::kTanh,
                 Cost::kLogLikelihood, false},
        GradCase{"fc:7,dropout:0.4:inverted,softmax:4", kSmall, Activation::kSigmoid,
                 Cost::kLogLikelihood, true},
        GradCase{"fc:7,dropout:0.4:inverted,softmax:4", kSmall, Activation::kSigmoid,
                 Cost::kLogLikelihood, false},
        GradCase{"conv:3:3,maxpool:2,conv:4:2,dropout:0.25,fc:6,dropout:0.5,softmax:4",
                 Shape{2, 8, 8}, Activation::kTanh, Cost::kLogLikelihood, true},
        GradCase{"conv:3:3,maxpool:2,conv:4:2,dropout:0.25,fc:6,dropout:0.5:inverted,softmax:4",
                 Shape{2, 8, 8}, Activation::kSigmoid, Cost::kLogLikelihood, false}));

// ---- Forward on hand-computed values ----

TEST(StackForward, ConvPoolFcByHand) {
  // Input 1x3x3 = [1 2 3; 4 5 6; 7 8 9]; one 2x2 filter [1 0; 0 -1] (cross-correlation), b = 0.5:
  // z = [1-5, 2-6; 4-8, 5-9] + 0.5 = [-3.5 -3.5; -3.5 -3.5] -> linear. maxpool:2 -> -3.5.
  // fc:2 with W = [2; -1], b = [1, 0]: [-6, 3.5].
  NetworkD net(stack_arch(Shape{1, 3, 3}, "conv:1:2,maxpool:2,fc:2", {Activation::kLinear},
                          Cost::kQuadratic));
  net.weight(0) << 1, 0, 0, -1;
  net.bias(0) << 0.5;
  net.weight(1) << 2, -1;
  net.bias(1) << 1, 0;
  MatrixXd x(9, 1);
  x << 1, 2, 3, 4, 5, 6, 7, 8, 9;
  WorkspaceT<double> ws = make_workspace(net, 1);
  forward(net, x, 1, ws);
  EXPECT_DOUBLE_EQ(ws.a[0](0, 0), -3.5);
  EXPECT_DOUBLE_EQ(ws.a[1](0, 0), -3.5);
  EXPECT_DOUBLE_EQ(ws.a.back()(0, 0), -6.0);
  EXPECT_DOUBLE_EQ(ws.a.back()(1, 0), 3.5);
}

TEST(StackForward, PoolsAndDropoutByHand) {
  // 1x2x4 input [1 5 2 0; 3 4 8 6] -> maxpool:2 [5 8], avgpool:2 [3.25 4].
  MatrixXd x(8, 1);
  x << 1, 5, 2, 0, 3, 4, 8, 6;
  NetworkD maxnet(
      stack_arch(Shape{1, 2, 4}, "maxpool:2,fc:1", {Activation::kLinear}, Cost::kQuadratic));
  maxnet.weight(0) << 1, 10;
  WorkspaceT<double> ws = make_workspace(maxnet, 1);
  forward(maxnet, x, 1, ws);
  EXPECT_DOUBLE_EQ(ws.a[0](0, 0), 5);
  EXPECT_DOUBLE_EQ(ws.a[0](1, 0), 8);
  EXPECT_EQ(ws.argmax[0][0], 1);
  EXPECT_EQ(ws.argmax[0][1], 6);
  EXPECT_DOUBLE_EQ(ws.a.back()(0, 0), 85);
  NetworkD avgnet(
      stack_arch(Shape{1, 2, 4}, "avgpool:2,fc:1", {Activation::kLinear}, Cost::kQuadratic));
  avgnet.weight(0) << 1, 10;
  ws = make_workspace(avgnet, 1);
  forward(avgnet, x, 1, ws);
  EXPECT_DOUBLE_EQ(ws.a[0](0, 0), 3.25);
  EXPECT_DOUBLE_EQ(ws.a[0](1, 0), 4);

  // dropout:0.25 then fc:1 with W = 1s: test time network3 scales inputs by 0.75, inverted keeps
  // them; training applies the mask as given.
  MatrixXd v(2, 1);
  v << 2, 4;
  for (bool inverted : {false, true}) {
    NetworkD net(stack_arch(Shape{2, 1, 1},
                            inverted ? "dropout:0.25:inverted,fc:1" : "dropout:0.25,fc:1",
                            {Activation::kLinear}, Cost::kQuadratic));
    net.weight(0) << 1, 1;
    WorkspaceT<double> w = make_workspace(net, 1);
    forward(net, v, 1, w, false);
    EXPECT_DOUBLE_EQ(w.a.back()(0, 0), inverted ? 6.0 : 4.5);
    w.mask[0] << 0, (inverted ? 4.0 / 3.0 : 1.0);
    forward(net, v, 1, w, true);
    EXPECT_DOUBLE_EQ(w.a.back()(0, 0), inverted ? 16.0 / 3.0 : 4.0);
  }
}

TEST(StackDropout, MasksFollowTheSpec) {
  NetworkD net(stack_arch(Shape{1, 20, 20}, "dropout:0.5,fc:50,dropout:0.2:inverted,softmax:10",
                          {Activation::kRelu}, Cost::kLogLikelihood));
  WorkspaceT<double> ws = make_workspace(net, 10);
  Mt19937 rng;
  rng.init_genrand(3);
  fill_dropout_masks(net, ws, 10, 0.0, [&] { return rng.next_double53(); });
  const auto& m0 = ws.mask[0];  // (400, 10): values 0 or 1, about half dropped
  EXPECT_TRUE(((m0.array() == 0) || (m0.array() == 1)).all());
  EXPECT_NEAR(m0.mean(), 0.5, 0.05);
  const auto& m2 = ws.mask[2];  // (50, 10): 0 or 1.25, about 20% dropped
  EXPECT_TRUE(((m2.array() == 0) || (m2.array() == 1.25)).all());
  EXPECT_NEAR((m2.array() == 0).cast<double>().mean(), 0.2, 0.08);
  EXPECT_EQ(ws.mask[1].rows(), 0);
}

TEST(StackInit, Network3Layout) {
  // network3: per layer W then b from one RandomState; softmax zero; conv kernels flipped.
  NetworkD net(stack_arch(Shape{1, 6, 6}, "conv:2:3,maxpool:2,fc:3,softmax:2",
                          {Activation::kSigmoid}, Cost::kLogLikelihood));
  init_params(net, Init::kNetwork3, 42);
  NumpyRandom rng(42);
  const double conv_scale = std::sqrt(1.0 / (2.0 * 9 / 4));
  for (int f = 0; f < 2; ++f)
    for (int ky = 0; ky < 3; ++ky)
      for (int kx = 0; kx < 3; ++kx)
        EXPECT_DOUBLE_EQ(net.weight(0)(f, (2 - ky) * 3 + (2 - kx)), rng.randn() * conv_scale);
  for (int f = 0; f < 2; ++f) EXPECT_DOUBLE_EQ(net.bias(0)[f], rng.randn());
  for (int i = 0; i < 8; ++i)
    for (int o = 0; o < 3; ++o)
      EXPECT_DOUBLE_EQ(net.weight(1)(o, i), rng.randn() * std::sqrt(1.0 / 3));
  for (int o = 0; o < 3; ++o) EXPECT_DOUBLE_EQ(net.bias(1)[o], rng.randn());
  EXPECT_EQ(net.weight(2).squaredNorm(), 0.0);
  EXPECT_EQ(net.bias(2).squaredNorm(), 0.0);
  Init parsed;
  ASSERT_TRUE(parse_init("network3", &parsed));
  EXPECT_EQ(parsed, Init::kNetwork3);
  EXPECT_STREQ(name(Init::kNetwork3), "network3");
}

TEST(StackParams, FlatRoundTripReproducesOutputs) {
  Architecture a = stack_arch(Shape{1, 28, 28}, "conv:4:5,maxpool:2,dropout:0.5,fc:20,softmax:10",
                              {Activation::kRelu}, Cost::kLogLikelihood);
  Network net(a);
  init_params(net, Init::kDefault, 5);
  std::vector<float> saved = net.params();
  Network copy(a);
  copy.params() = saved;
  Eigen::MatrixXf x = Eigen::MatrixXf::Random(784, 7).cwiseAbs();
  Workspace w1 = make_workspace(net, 7), w2 = make_workspace(copy, 7);
  forward(net, x, 7, w1);
  forward(copy, x, 7, w2);
  EXPECT_EQ(w1.a.back().leftCols(7), w2.a.back().leftCols(7));
  EXPECT_TRUE(w1.a.back().leftCols(7).allFinite());
  // Columns of a softmax sum to one.
  for (int j = 0; j < 7; ++j) EXPECT_NEAR(w1.a.back().col(j).sum(), 1.0f, 1e-5f);
}

TEST(StackSgd, StepMatchesForwardBackwardUpdateAndThreadsAgree) {
  Architecture a = stack_arch(Shape{1, 12, 12}, "conv:4:3,maxpool:2,fc:8,softmax:10",
                              {Activation::kRelu}, Cost::kLogLikelihood);
  Network n1(a);
  init_params(n1, Init::kDefault, 9);
  Network n2 = n1, n3 = n1;
  Eigen::MatrixXf x = Eigen::MatrixXf::Random(144, 5).cwiseAbs();
  std::vector<const float*> cols;
  for (int j = 0; j < 5; ++j) cols.push_back(x.col(j).data());
  const uint8_t labels[5] = {1, 3, 5, 7, 9};
  SgdRule rule;
  rule.step = 0.1 / 5;
  rule.decay = 0.999;
  Workspace ws = make_workspace(n1, 5);
  ASSERT_TRUE(sgd_step(n1, cols.data(), labels, 5, ws, rule, static_cast<float*>(nullptr)));
  Eigen::MatrixXf y = Eigen::MatrixXf::Zero(10, 5);
  for (int j = 0; j < 5; ++j) y(labels[j], j) = 1;
  std::vector<float> grad(n2.params().size(), 0.0f);
  Workspace ws2 = make_workspace(n2, 5);
  forward(n2, x, 5, ws2);
  backward(n2, x, y, 5, ws2, grad.data());
  apply_update(n2, grad.data(), rule, static_cast<float*>(nullptr));
  EXPECT_EQ(n1.params(), n2.params());
  EXPECT_NE(n1.params(), n3.params());
  Workspace ws3 = make_workspace(n3, 5);
  ws3.threads = 2;
  ASSERT_TRUE(sgd_step(n3, cols.data(), labels, 5, ws3, rule, static_cast<float*>(nullptr)));
  EXPECT_EQ(n1.params(), n3.params());
}

}  // namespace
}  // namespace nnet
