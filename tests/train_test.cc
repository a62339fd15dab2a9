// Training on real MNIST: the notebook's network must learn as the notebook's code does.
#include "nnet/train.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "nnet/data.h"
#include "nnet/network.h"
#include "nn/workspace.h"
#include "nnet/pyrandom.h"
#include "test_util.h"

namespace nnet {
namespace {

DataSplits load_mnist(const std::string& dir) {
  DataSplits d;
  Status s = load_pickle(dir + "/mnist.pkl.gz", LoadOptions{}, &d);
  EXPECT_TRUE(s.ok()) << s.message();
  return d;
}

// Runs the notebook's network and returns the per-epoch reports.
std::vector<EpochReport> run(const DataSplits& d, const TrainOptions& o,
                             Cost cost = Cost::kQuadratic) {
  Network net(sigmoid_architecture({784, 30, 10}, cost));
  init_params(net, Init::kLarge, o.seed);
  TrainState st = initial_state(net, d.training.size(), o);
  Status s = train(net, d.training, &d.test, o, TrainCallbacks{}, &st);
  EXPECT_TRUE(s.ok()) << s.message();
  return st.history;
}

TEST(Train, Eta3ReachesNinetyPercentForEverySeed) {
  NNET_REQUIRE_MNIST(dir);
  DataSplits d = load_mnist(dir);
  ASSERT_EQ(d.training.size(), testing::mnist().training);
  const long total = static_cast<long>(testing::mnist().test);
  // Measured with seeds 1..8: final accuracy 91.0-91.9%, peak 91.3-92.0% (the notebook's code
  // reached 91.7% on the same data in one run). The npm digits (8,003 training, 997 test images):
  // seeds 1-3 906-915 (90.9-91.8%), seeds 4-8 905-920 but seed 6 (840).
  for (uint32_t seed : {1u, 2u, 3u}) {
    TrainOptions o;
    o.eta = 3.0;
    o.seed = seed;
    auto h = run(d, o);
    ASSERT_EQ(h.size(), 30u);
    EXPECT_GE(h.back().evaluation_correct * 10, 9 * total) << "seed " << seed;
    EXPECT_EQ(h.back().evaluation_total, total);
  }
}

TEST(Train, NotebookEtaLearnsVisiblyInThreeEpochs) {
  NNET_REQUIRE_MNIST(dir);
  DataSplits d = load_mnist(dir);
  // One run of the notebook's code: 22.7%, 28.3%, 32.0%. With N(0,1) weights some seeds start
  // saturated (seed 4 predicts one class for 10+ epochs while its cost falls), so accuracy is
  // judged across seeds and the cost is required to fall for every seed.
  std::vector<long> third;
  int rose = 0;
  for (uint32_t seed = 1; seed <= 8; ++seed) {
    TrainOptions o;
    o.epochs = 3;
    o.seed = seed;
    o.monitor_training_cost = true;
    auto h = run(d, o);
    ASSERT_EQ(h.size(), 3u);
    EXPECT_LT(h[1].training_cost, h[0].training_cost) << "seed " << seed;
    EXPECT_LT(h[2].training_cost, h[1].training_cost) << "seed " << seed;
    third.push_back(h[2].evaluation_correct);
    rose += h[2].evaluation_correct > h[0].evaluation_correct;
  }
  std::sort(third.begin(), third.end());
  // Measured: 7 of 8; median after 3 epochs 3511 of 10000 (npm digits: 7 of 8, median 325 of 997).
  EXPECT_GE(rose, 7);
  EXPECT_GE(third[third.size() / 2] * 10, 3 * static_cast<long>(testing::mnist().test));
}

TEST(Train, SameSeedSameResultsAnyThreadCount) {
  NNET_REQUIRE_MNIST(dir);
  DataSplits d = load_mnist(dir);
  d.training = head(d.training, 2000);
  TrainOptions o;
  o.epochs = 2;
  o.eta = 3.0;
  o.monitor_evaluation_cost = true;
  o.threads = 1;
  auto a = run(d, o);
  o.threads = 2;
  auto b = run(d, o);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].evaluation_correct, b[i].evaluation_correct);
    EXPECT_EQ(a[i].evaluation_cost, b[i].evaluation_cost);  // bit-identical sums
  }
}

// A dataset of two distinct images whose labels are easy to learn, for fast option tests.
Dataset tiny_dataset(size_t n) {
  Dataset d;
  d.rows = 2;
  d.cols = 2;
  for (size_t i = 0; i < n; ++i) {
    const int label = static_cast<int>(i % 2);
    const float v[2][4] = {{1, 0, 0, 1}, {0, 1, 1, 0}};
    d.images.insert(d.images.end(), v[label], v[label] + 4);
    d.labels.push_back(static_cast<uint8_t>(label));
  }
  return d;
}

TEST(Train, SgdStepMatchesTheNotebookIncludingShortLastBatch) {
  // 5 images, batch 2: mini-batches of 2, 2 and 1, each applying w -= eta/len(batch) * sum(nabla).
  // Replayed here by hand with the same shuffle (Python's random.shuffle, seeded like the run).
  Dataset d = tiny_dataset(5);
  d.images[4] = 0.25f;  // make the images distinct
  d.images[9] = 0.75f;
  Network net(sigmoid_architecture({4, 3, 2}));
  init_params(net, Init::kLarge, 3);
  Network by_hand = net;
  TrainOptions o;
  o.epochs = 1;
  o.batch = 2;
  o.eta = 0.5;
  o.seed = 11;
  TrainState st = initial_state(net, d.size(), o);
  ASSERT_TRUE(train(net, d, nullptr, o, {}, &st).ok());

  std::vector<uint32_t> order{0, 1, 2, 3, 4};
  PyRandom(o.seed).shuffle(order);
  EXPECT_EQ(st.order, order);
  Workspace ws = make_workspace(by_hand, 1);
  for (size_t begin = 0; begin < order.size(); begin += 2) {
    const size_t m = std::min<size_t>(2, order.size() - begin);
    std::vector<float> grad(by_hand.params().size(), 0.0f);
    for (size_t j = 0; j < m; ++j) {  // one sample at a time, as network.py does
      const uint32_t i = order[begin + j];
      Eigen::MatrixXf x = ConstMatrixMap(d.image(i), 4, 1);  // (4, 1)
      Eigen::MatrixXf y = Eigen::MatrixXf::Zero(2, 1);       // (2, 1)
      y(d.labels[i], 0) = 1;
      forward(by_hand, x, 1, ws);
      backward(by_hand, x, y, 1, ws, grad.data());
    }
    for (size_t k = 0; k < grad.size(); ++k)
      by_hand.params()[k] -= static_cast<float>(o.eta / m) * grad[k];
  }
  for (size_t k = 0; k < net.params().size(); ++k)
    EXPECT_NEAR(net.params()[k], by_hand.params()[k], 1e-6) << "parameter " << k;
}

TEST(Train, RejectsBadOptions) {
  TrainOptions o;
  o.eta = 0;
  EXPECT_EQ(validate(o).code(), Code::kUsage);
  o.eta = std::nan("");
  EXPECT_EQ(validate(o).code(), Code::kUsage);
  o = TrainOptions{};
  o.batch = 0;
  EXPECT_EQ(validate(o).code(), Code::kUsage);
  o = TrainOptions{};
  o.epochs = 0;
  EXPECT_EQ(validate(o).code(), Code::kUsage);
  o = TrainOptions{};
  o.dropout = 1.0;
  EXPECT_EQ(validate(o).code(), Code::kUsage);
  EXPECT_TRUE(validate(TrainOptions{}).ok());
}

TEST(Train, ArchitectureValidation) {
  EXPECT_TRUE(validate(sigmoid_architecture({784, 30, 10}), 784, 10).ok());
  EXPECT_EQ(validate(sigmoid_architecture({100, 30, 10}), 784, 10).code(), Code::kUsage);
  EXPECT_EQ(validate(sigmoid_architecture({784, 30, 5}), 784, 10).code(), Code::kUsage);
  EXPECT_EQ(validate(sigmoid_architecture({784}), 784, 10).code(), Code::kUsage);
  EXPECT_EQ(validate(sigmoid_architecture({784, 0, 10}), 784, 10).code(), Code::kUsage);
  Architecture a = sigmoid_architecture({784, 30, 10}, Cost::kLogLikelihood);
  EXPECT_EQ(validate(a, 784, 10).code(), Code::kUsage);  // log-likelihood needs softmax
  a.activations.back() = Activation::kSoftmax;
  EXPECT_TRUE(validate(a, 784, 10).ok());
}

// The engine asks layers, not the spelling: a --sizes net is a stack whose hidden fc layers take
// TrainOptions::dropout in place and whose numerics are the fused kernels'; a --layers stack of
// the same fc layers has neither (dropout is a layer there, and Eigen's GEMM rounds it).
TEST(Train, SizesNetsCarryTheirDropoutAndNumericsInTheLayers) {
  const Network sized(sigmoid_architecture({4, 3, 3, 2}));
  ASSERT_EQ(sized.stack_size(), 3);
  EXPECT_TRUE(sized.spec(0).in_place_dropout);
  EXPECT_TRUE(sized.spec(1).in_place_dropout);
  EXPECT_FALSE(sized.spec(2).in_place_dropout);  // the output layer is never dropped
  EXPECT_EQ(sized.arch().numerics, Architecture::Numerics::kFusedFc);
  Architecture a;
  a.input = Shape{4, 1, 1};
  ASSERT_TRUE(parse_layers("fc:3,fc:3,fc:2", {Activation::kSigmoid}, &a.layers).ok());
  const Network stacked(a);
  EXPECT_FALSE(has_in_place_dropout(stacked.arch()));
  EXPECT_EQ(stacked.arch().numerics, Architecture::Numerics::kLayerwise);

  // train() refuses TrainOptions::dropout where no layer takes it, naming the option.
  Dataset d = tiny_dataset(20);
  TrainOptions o;
  o.epochs = 1;
  o.batch = 5;
  o.dropout = 0.5;
  for (Network net : {Network(a), Network(sigmoid_architecture({4, 2}))}) {
    init_params(net, Init::kDefault, 1);
    TrainState st = initial_state(net, d.size(), o);
    const Status s = train(net, d, nullptr, o, {}, &st);
    EXPECT_EQ(s.code(), Code::kUsage);
    EXPECT_EQ(s.message().rfind("dropout: expected a net with hidden fc layers", 0), 0u)
        << s.message();
  }
  Network net(sigmoid_architecture({4, 3, 2}));
  init_params(net, Init::kDefault, 1);
  TrainState st = initial_state(net, d.size(), o);
  EXPECT_TRUE(train(net, d, nullptr, o, {}, &st).ok());
}

TEST(Train, EvaluateCountsArgmaxAndIgnoresThreadCount) {
  Dataset d = tiny_dataset(1001);  // more than one evaluation chunk
  Network net(sigmoid_architecture({4, 2}));
  // Output 0 fires on pixel 0, output 1 on pixel 1: every image classified correctly.
  net.weight(0) << 5, 0, 0, 0, 0, 5, 0, 0;
  net.bias(0) << -2, -2;
  EvalResult r1 = evaluate(net, d, true, 0.0, true, 1);
  EvalResult r2 = evaluate(net, d, true, 0.0, true, 2);
  EXPECT_EQ(r1.correct, 1001);
  EXPECT_EQ(r1.total, 1001);
  EXPECT_EQ(r1.cost, r2.cost);
  EXPECT_EQ(r1.predictions, r2.predictions);
  EXPECT_EQ(r1.predictions[0], 0);
  EXPECT_EQ(r1.predictions[1], 1);
  // Quadratic cost by hand: a = sigmoid(3) for the right output, sigmoid(-2) for the other.
  const double hi = 1 / (1 + std::exp(-3.0)), lo = 1 / (1 + std::exp(2.0));
  EXPECT_NEAR(r1.cost, 0.5 * ((1 - hi) * (1 - hi) + lo * lo), 1e-6);
}

}  // namespace
}  // namespace nnet
