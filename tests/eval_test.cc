// `nnet eval` and `nnet train --save/--init-from` end to end on a small synthetic IDX set (no
// shared data needed), plus the confusion-matrix helpers. Runtime: ~1 s.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "nnet/data.h"
#include "nnet/metrics.h"
#include "nnet/model_io.h"
#include "nnet/train.h"
#include "synthetic_data.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace nnet {
namespace {

using testing::run_nnet;

class EvalCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = testing::make_temp_dir("nnet-eval");
    ASSERT_TRUE(testing::write_synthetic_idx(dir_, 300, 100));
    auto r = run_nnet("train --data '" + dir_ + "' --sizes 784,20,10 --epochs 3 --eta 1.0 " +
                      "--cost cross-entropy --init default --save '" + dir_ + "/m.json' -q");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = run_nnet("train --data '" + dir_ + "' --sizes 784,20,10 --epochs 3 --eta 1.0 " +
                 "--cost cross-entropy --init default --save '" + dir_ + "/m.h5' -q");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string dir_;
};
std::string EvalCli::dir_;

TEST_F(EvalCli, PrintsCountThenPerClassThenConfusion) {
  auto r = run_nnet("eval --model '" + dir_ + "/m.json' --data '" + dir_ + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // First line: "correct / total", the same figure the library computes.
  Model m;
  ASSERT_TRUE(load_model(dir_ + "/m.json", &m).ok());
  DataSplits d;
  ASSERT_TRUE(load_data(dir_, {}, &d).ok());
  const EvalResult want = evaluate(m.net, d.test, false, 0.0, true, 1);
  std::istringstream in(r.out);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, std::to_string(want.correct) + " / 100");
  EXPECT_GT(want.correct, 50) << "the synthetic classes are easy to learn";
  // Per-class lines: totals add up to 100, corrects to the first line's count.
  long sum_total = 0, sum_ok = 0;
  int rows = 0;
  while (std::getline(in, line) && line.rfind("confusion", 0) != 0) {
    int k;
    long ok, total;
    if (std::sscanf(line.c_str(), "%d %ld %ld", &k, &ok, &total) == 3) {
      EXPECT_EQ(k, rows++);
      sum_ok += ok;
      sum_total += total;
    }
  }
  EXPECT_EQ(rows, 10);
  EXPECT_EQ(sum_total, 100);
  EXPECT_EQ(sum_ok, want.correct);
  // Confusion: a header then 10 rows of 11 numbers (label + 10 counts) summing to 100.
  std::getline(in, line);
  EXPECT_NE(line.find("true\\pred"), std::string::npos);
  long cells = 0, diag = 0;
  for (int t = 0; t < 10; ++t) {
    ASSERT_TRUE(std::getline(in, line));
    std::istringstream row(line);
    int label;
    row >> label;
    EXPECT_EQ(label, t);
    long v;
    for (int p = 0; p < 10 && row >> v; ++p) {
      cells += v;
      if (p == t) diag += v;
    }
  }
  EXPECT_EQ(cells, 100);
  EXPECT_EQ(diag, want.correct);
  // The HDF5 model trained the same way prints the same report.
  auto h5 = run_nnet("eval --model '" + dir_ + "/m.h5' --data '" + dir_ + "'");
  EXPECT_EQ(h5.out, r.out);
  // --limit evaluates the first N.
  auto lim = run_nnet("eval --model '" + dir_ + "/m.json' --data '" + dir_ + "' --limit 7");
  EXPECT_EQ(lim.out.substr(0, lim.out.find('\n')),
            std::to_string(evaluate(m.net, head(d.test, 7), false).correct) + " / 7");
}

TEST_F(EvalCli, ErrorsHaveTheirExitCodes) {
  const std::string data = " --data '" + dir_ + "'";
  EXPECT_EQ(run_nnet("eval --model '" + dir_ + "/none.json'" + data).exit_code, 66);
  ASSERT_TRUE(testing::write_file(dir_ + "/bad.json", "{\"sizes\": [784, 10], \"cost\": 1}"));
  auto r = run_nnet("eval --model '" + dir_ + "/bad.json'" + data);
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("weights: missing"), std::string::npos) << r.err;
  EXPECT_EQ(run_nnet("eval" + data).exit_code, 2);  // --model is required
  EXPECT_EQ(run_nnet("eval --model '" + dir_ + "/m.json' --split none" + data).exit_code, 2);
  r = run_nnet("eval --model '" + dir_ + "/m.json' --split validation" + data);
  EXPECT_EQ(r.exit_code, 2) << "the IDX set has no validation split";
  EXPECT_EQ(run_nnet("eval --model '" + dir_ + "/m.json' --limit 0" + data).exit_code, 2);
}

TEST_F(EvalCli, SavePathIsCheckedBeforeTraining) {
  auto r = run_nnet("train --data '" + dir_ + "' --epochs 1 --save '" + dir_ + "/no/dir/m.json'");
  EXPECT_EQ(r.exit_code, 73);
  EXPECT_EQ(r.out, "") << "no epoch may run before the output path is known good";
  EXPECT_NE(r.err.find("--save"), std::string::npos) << r.err;
}

TEST_F(EvalCli, InitFromContinuesFromTheFile) {
  // Sizes come from the file (784,20,10) although --sizes defaults to 784,30,10; a negligible
  // eta leaves the loaded weights in place, so the saved copy equals the original.
  auto r = run_nnet("train --data '" + dir_ + "' --init-from '" + dir_ +
                    "/m.json' --epochs 1 --eta 1e-30 --save '" + dir_ + "/m2.json' -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Model a, b;
  ASSERT_TRUE(load_model(dir_ + "/m.json", &a).ok());
  ASSERT_TRUE(load_model(dir_ + "/m2.json", &b).ok());
  EXPECT_EQ(b.net.arch().sizes, (std::vector<int>{784, 20, 10}));
  EXPECT_EQ(b.net.arch().cost, Cost::kCrossEntropy);
  ASSERT_EQ(a.net.params().size(), b.net.params().size());
  for (size_t i = 0; i < a.net.params().size(); ++i)
    ASSERT_NEAR(a.net.params()[i], b.net.params()[i], 1e-20) << i;
  EXPECT_EQ(b.training["init_from"], dir_ + "/m.json");
  // The first epoch already scores what the loaded model scores.
  DataSplits d;
  ASSERT_TRUE(load_data(dir_, {}, &d).ok());
  EXPECT_EQ(r.out,
            "Epoch 0: " + std::to_string(evaluate(a.net, d.test, false).correct) + " / 100\n");
  // An explicit --sizes that disagrees with the file is a usage error.
  r = run_nnet("train --data '" + dir_ + "' --init-from '" + dir_ + "/m.json' --sizes 784,30,10");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("has sizes 784,20,10"), std::string::npos) << r.err;
  r = run_nnet("train --data '" + dir_ + "' --init-from '" + dir_ + "/m.json' --activation relu");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(run_nnet("train --data '" + dir_ + "' --init-from '" + dir_ + "/x.json'").exit_code,
            66);
}

TEST(Confusion, CountsAndFormats) {
  Dataset d;
  d.labels = {0, 0, 1, 2, 2, 2};
  const std::vector<uint8_t> pred = {0, 1, 1, 2, 0, 12};  // 12: an 11th+ output neuron won
  Confusion c = confusion(d, pred);
  EXPECT_EQ(c.columns, 11);  // the extra "other" column
  EXPECT_EQ(c.at(0, 0), 1);
  EXPECT_EQ(c.at(0, 1), 1);
  EXPECT_EQ(c.at(2, 10), 1);
  EXPECT_EQ(c.correct(), 3);
  EXPECT_EQ(c.total(), 6);
  EXPECT_EQ(c.row_total(2), 3);
  const std::string per = format_per_class(c);
  EXPECT_NE(per.find("    2        1      3    33.33%"), std::string::npos) << per;
  EXPECT_NE(per.find("    5        0      0         -"), std::string::npos) << per;
  const std::string m = format_confusion(c);
  EXPECT_NE(m.find("other"), std::string::npos);
  // Every row has the same width (aligned).
  std::istringstream in(m);
  std::string line;
  std::getline(in, line);
  std::getline(in, line);
  const size_t width = line.size();
  while (std::getline(in, line)) EXPECT_EQ(line.size(), width) << line;
}

}  // namespace
}  // namespace nnet
