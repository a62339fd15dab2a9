// The `nnet` program end to end: output format, help, and exit codes for bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <sstream>

#include "test_util.h"

namespace nnet::testing {
namespace {

std::string pkl() { return mnist().dir + "/mnist.pkl.gz"; }

// A folder holding only the IDX files of mnist() (its folder also has the pkl, which wins).
std::string idx_only_dir() {
  const std::string tmp = make_temp_dir("nnet-idx");
  for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"})
    run_command("ln -s '" + mnist().dir + "/" + f + "' '" + tmp + "/" + f + "'");
  return tmp;
}

// The test split's size as the CLI prints it: "/ 10000" on the shared folder, "/ 997" on npm.
std::string test_total() { return std::to_string(mnist().test); }

TEST(Cli, HelpExitsZeroAndListsTheFlags) {
  CommandResult r = run_nnet("--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("train"), std::string::npos);
  r = run_nnet("train --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag :
       {"--data", "--sizes", "--epochs", "--batch", "--eta", "--seed", "--train-size", "--eval"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
}

TEST(Cli, PrintsExactlyTheNotebookLines) {
  NNET_REQUIRE_MNIST(dir);
  CommandResult r = run_nnet("train --data '" + pkl() + "' --epochs 2 --eta 3.0 --train-size 1000");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::regex_match(r.out, std::regex("Epoch 0: [0-9]+ / " + test_total() +
                                                 "\nEpoch 1: [0-9]+ / " + test_total() + "\n")))
      << r.out;
  // Timing goes to stderr, never stdout.
  EXPECT_NE(r.err.find("epoch 0: train"), std::string::npos) << r.err;
}

TEST(Cli, NoEvaluationPrintsEpochComplete) {
  NNET_REQUIRE_MNIST(dir);
  CommandResult r =
      run_nnet("train --data '" + dir + "' --epochs 2 --train-size 100 --eval none -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Epoch 0 complete\nEpoch 1 complete\n");
  EXPECT_EQ(r.err, "");  // --quiet
}

TEST(Cli, IdxFolderWithCarvedValidation) {
  NNET_REQUIRE_MNIST(dir);
  CommandResult r =
      run_nnet("train --data '" + idx_only_dir() +
               "' --epochs 1 --train-size 500 --validation-size 1000 --eval validation -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::regex_match(r.out, std::regex("Epoch 0: [0-9]+ / 1000\n"))) << r.out;
}

TEST(Cli, MonitorsPrintNetwork2Lines) {
  NNET_REQUIRE_MNIST(dir);
  CommandResult r = run_nnet("train --data '" + pkl() +
                             "' --epochs 1 --train-size 200 --cost cross-entropy --monitor all -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::regex_match(
      r.out,
      std::regex("Epoch 0 training complete\nCost on training data: [0-9.e-]+\n"
                 "Accuracy on training data: [0-9]+ / 200\nCost on evaluation data: [0-9.e-]+\n"
                 "Accuracy on evaluation data: [0-9]+ / " +
                 test_total() + "\n\n")))
      << r.out;
}

struct BadCase {
  const char* args;
  int code;
  const char* message;
};

TEST(Cli, BadFlagsAreUsageErrors) {
  NNET_REQUIRE_MNIST(dir);
  const std::string data = " --data '" + idx_only_dir() + "'";
  const std::string idx_training = std::to_string(mnist().training + mnist().validation);
  const std::string train_range = "--train-size: expected 1.." + idx_training;
  const BadCase cases[] = {
      {"train --eta 0", 2, "--eta: expected a finite number > 0"},
      {"train --eta nan", 2, "--eta"},
      {"train --batch 0", 2, "--batch: expected an integer >= 1"},
      {"train --epochs 0", 2, "--epochs: expected an integer >= 1"},
      {"train --sizes 100,30,10", 2, "first layer must equal the image size 784"},
      {"train --sizes 784,30,5", 2, "last layer must have at least 10"},
      {"train --no-such-flag", 2, "no-such-flag"},
      {"train --eval bogus", 2, "--eval: expected test, validation or none"},
      {"train --eval validation", 2, "no validation split"},
      {"train --train-size 20000", 2, train_range.c_str()},
      {"train --validation-size 10000", 2, "validation size 10000 must be smaller"},
      {"train --cost bogus", 2, "--cost: expected quadratic"},
  };
  for (const BadCase& c : cases) {
    CommandResult r = run_nnet(std::string(c.args) + data);
    EXPECT_EQ(r.exit_code, c.code) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_EQ(r.out, "") << c.args;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  }
}

TEST(Cli, BadDataGivesDataExitCodes) {
  const std::string tmp = make_temp_dir("nnet-cli");
  ASSERT_TRUE(
      write_file(tmp + "/page.pkl.gz", "<!DOCTYPE html><html><body>Not Found</body></html>\n"));
  CommandResult r = run_nnet("train --data '" + tmp + "/page.pkl.gz'");
  EXPECT_EQ(r.exit_code, 65) << r.err;
  EXPECT_NE(r.err.find("page.pkl.gz"), std::string::npos) << r.err;
  r = run_nnet("train --data '" + tmp + "/missing.pkl.gz'");
  EXPECT_EQ(r.exit_code, 66) << r.err;
  EXPECT_NE(r.err.find("missing.pkl.gz"), std::string::npos) << r.err;
  r = run_command("NNET_DATA='" + tmp + "/nothing' '" + std::string(NNET_BINARY) + "' train");
  EXPECT_EQ(r.exit_code, 66) << r.err;
}

TEST(Cli, HistoryFileRecordsEveryEpoch) {
  NNET_REQUIRE_MNIST(dir);
  const std::string tmp = make_temp_dir("nnet-cli");
  CommandResult r =
      run_nnet("train --data '" + pkl() +
               "' --epochs 3 --train-size 300 --monitor all -q --history '" + tmp + "/run.json'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  CommandResult cat = run_command("cat '" + tmp + "/run.json'");
  EXPECT_NE(cat.out.find("\"format\": \"nnet-history\""), std::string::npos);
  EXPECT_NE(cat.out.find("\"epoch\": 2"), std::string::npos);
  EXPECT_NE(cat.out.find("\"seed\": 1"), std::string::npos);
  r = run_nnet("train --data '" + pkl() + "' --epochs 1 --history '" + tmp + "'");
  EXPECT_EQ(r.exit_code, 73) << r.err;  // a directory, refused before training
  EXPECT_EQ(r.out, "");
}

}  // namespace
}  // namespace nnet::testing

namespace nnet::testing {
namespace {

// Compares printed lines: identical, except that "Cost on ...: X" figures may differ by 1e-9
// relative (BLAS and Eigen sum in different orders; the last digits of a double differ).
void expect_same_lines(const std::string& ours, const std::string& theirs) {
  std::istringstream a(ours), b(theirs);
  std::string la, lb;
  int n = 0;
  while (std::getline(b, lb)) {
    ASSERT_TRUE(std::getline(a, la)) << "missing line " << n << ": " << lb;
    const auto colon = lb.rfind(": ");
    if (lb.rfind("Cost on ", 0) == 0 && colon != std::string::npos) {
      ASSERT_EQ(la.substr(0, colon), lb.substr(0, colon));
      const double x = std::stod(la.substr(colon + 2)), y = std::stod(lb.substr(colon + 2));
      EXPECT_NEAR(x, y, 1e-9 * std::abs(y)) << la << " vs " << lb;
    } else {
      EXPECT_EQ(la, lb);
    }
    ++n;
  }
  EXPECT_FALSE(std::getline(a, la)) << "extra line: " << la;
  EXPECT_GT(n, 1);
}

// `nnet train --reference` prints what the book's Python code prints for the same seeds.
TEST(Cli, ReferenceModePrintsThePythonLines) {
  NNET_REQUIRE_MNIST(dir);
  if (debian_python().empty())
    GTEST_SKIP() << "/usr/bin/python3 with numpy not found: oracle skipped";
  struct Case {
    std::string oracle, nnet;
  };
  const std::string eval_n = " --eval-n " + test_total();
  const Case cases[] = {
      {"--sizes 784,30,10 --epochs 2 --eta 3.0 --numpy-seed 7 --python-seed 8 --train-n 500" +
           eval_n,
       "--sizes 784,30,10 --epochs 2 --eta 3.0 --numpy-seed 7 --python-seed 8 --train-size 500"},
      {"--network2 --cost cross-entropy --init default --lmbda 0.5 --python2-shuffle --epochs 2 "
       "--eta 0.5 "
       "--numpy-seed 3 --python-seed 3 --train-n 300 "
       "--monitor training-cost,training-accuracy,evaluation-cost,evaluation-accuracy" +
           eval_n,
       "--cost cross-entropy --lambda 0.5 --python2-shuffle --epochs 2 --eta 0.5 --seed 3 "
       "--train-size 300 "
       "--monitor all"},
  };
  for (const Case& c : cases) {
    CommandResult py = run_command(debian_python() + " '" + NNET_SOURCE_DIR +
                                   "/tests/oracle/network_oracle.py' --data '" + dir +
                                   "/mnist.pkl.gz' " + c.oracle);
    ASSERT_EQ(py.exit_code, 0) << py.err;
    CommandResult ours =
        run_nnet("train --reference -q --data '" + dir + "/mnist.pkl.gz' " + c.nnet);
    ASSERT_EQ(ours.exit_code, 0) << ours.err;
    expect_same_lines(ours.out, py.out);
    EXPECT_NE(ours.out.find("Epoch 1"), std::string::npos);
  }
}

// --dropout drops a --sizes net's hidden units; a stack says dropout:P in --layers. Refused from
// the option table, before any data is read (the path does not exist).
TEST(Cli, DropoutFlagIsForSizesNets) {
  CommandResult r = run_nnet("train --layers fc:30,softmax:10 --dropout 0.5 --data /nonexistent");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("nnet: --dropout: drops a --sizes net's hidden units; a layer stack", 0),
            0u)
      << r.err;
}

TEST(Cli, ReferenceModeRefusesWhatTheBookLacks) {
  NNET_REQUIRE_MNIST(dir);
  CommandResult r = run_nnet("train --reference --dropout 0.5 --data '" + dir + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--reference: --dropout"), std::string::npos) << r.err;
  r = run_nnet("train --reference --activation relu --sizes 784,30,10 --data '" + dir + "'");
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

}  // namespace
}  // namespace nnet::testing
