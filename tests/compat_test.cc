// Nothing the engine computes may change: each case here trains, resumes or evaluates with the
// CLI on synthetic data and compares, byte for byte, with what the code of commit 0a3834f (before
// the one-engine refactor) wrote for the same command: the notebook lines, the hint lines, the
// saved model file and the history (timings aside).
//
// The goldens live in tests/golden/: per CPU path (avx512: the fused AVX-512 kernels of a native
// build; portable: the Eigen path of a -DNNET_NATIVE=OFF build, as the sanitizer run builds) the
// expected lines and hashes, and path-independent files (models, checkpoints) written by that
// commit. To write them again with an old binary (never needed unless a number is meant to move):
//   NNET_GOLDEN_WRITE=1 NNET_GOLDEN_NNET=/path/to/old/nnet NNET_GOLDEN_PATH=avx512|portable
//     build/tests/compat_test
// Budget: ~15 s in Release.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "synthetic_data.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace nnet {
namespace {

using testing::make_temp_dir;
using testing::run_command;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool writing() { return std::getenv("NNET_GOLDEN_WRITE") != nullptr; }

// The binary under test: the one built with this tree, or the old one when writing goldens.
std::string binary() {
  const char* old = std::getenv("NNET_GOLDEN_NNET");
  return writing() && old ? old : NNET_BINARY;
}

// Which golden set applies: the fused AVX-512 kernels and the portable Eigen path round
// differently, each deterministically.
std::string cpu_path() {
  if (const char* p = std::getenv("NNET_GOLDEN_PATH"); p && writing()) return p;
#if defined(__AVX512F__)
  return "avx512";
#else
  return "portable";
#endif
}

std::string golden_dir() { return std::string(NNET_SOURCE_DIR) + "/tests/golden"; }

// SHA-256 of a file, by coreutils (the tests need no crypto library).
std::string sha256(const std::string& path) {
  const auto r = run_command("sha256sum '" + path + "'");
  return r.out.substr(0, 64);
}

// A history with its wall-clock fields removed: everything else must match exactly.
std::string history_without_timings(const std::string& path) {
  nlohmann::json h = nlohmann::json::parse(slurp(path));
  for (auto& e : h["epochs"]) {
    e.erase("train_seconds");
    e.erase("eval_seconds");
    e.erase("train_cpu_seconds");
    if (e.contains("health")) e["health"].erase("seconds");
  }
  h["options"].erase("data");  // a temp dir
  return h.dump(1) + "\n";
}

// Lines of `err` that are hints (the rest of stderr is timing and progress).
std::string hint_lines(const std::string& err) {
  std::stringstream in(err), out;
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("hint:", 0) == 0 || line.find(": hint:") != std::string::npos) out << line << "\n";
  return out.str();
}

// Compares `actual` with the golden file `name` of this CPU path (or writes it).
void expect_golden(const std::string& name, const std::string& actual) {
  const std::string dir = golden_dir() + "/" + cpu_path();
  const std::string file = dir + "/" + name;
  if (writing()) {
    fs::create_directories(dir);
    std::ofstream(file, std::ios::binary) << actual;
    return;
  }
  ASSERT_TRUE(fs::exists(file)) << "missing golden " << file;
  EXPECT_EQ(slurp(file), actual) << "differs from " << file;
}

class Compat : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = make_temp_dir("nnet-compat");
    fs::create_directories(tmp_ + "/data");
    ASSERT_TRUE(testing::write_synthetic_idx(tmp_ + "/data", 600, 200));
  }
  void TearDown() override { fs::remove_all(tmp_); }

  // SHA-256 of a saved model with this test's temp dir (in its training options) spelled TMP.
  std::string model_sha256(const std::string& path) {
    std::string bytes = slurp(path);
    for (size_t at = bytes.find(tmp_); at != std::string::npos; at = bytes.find(tmp_, at))
      bytes.replace(at, tmp_.size(), "TMP");
    const std::string copy = tmp_ + "/normalized";
    std::ofstream(copy, std::ios::binary) << bytes;
    return sha256(copy);
  }

  testing::CommandResult nnet(const std::string& args) {
    return run_command("'" + binary() + "' " + args);
  }

  // Trains with `flags`, saving model and history, and checks lines, hints, model and history.
  void train_case(const std::string& name, const std::string& flags) {
    const std::string model = tmp_ + "/" + name + ".json", hist = tmp_ + "/" + name + ".hist.json";
    const auto r = nnet("train --data " + tmp_ + "/data " + flags + " --save " + model +
                        " --history " + hist);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    expect_golden(name + ".out", r.out);
    expect_golden(name + ".hints", hint_lines(r.err));
    expect_golden(name + ".model.sha256", model_sha256(model) + "\n");
    expect_golden(name + ".history.json", history_without_timings(hist));
  }

  std::string tmp_;
};

TEST_F(Compat, DenseNotebookNetFusedStep) {
  train_case("dense-notebook", "--sizes 784,30,10 --epochs 3 --batch 10 --eta 3.0 --seed 3");
}

TEST_F(Compat, DenseEveryUpdateRule) {
  train_case("dense-options",
             "--sizes 784,20,16,10 --activation relu,tanh --cost cross-entropy --init default "
             "--lambda 2 --l1 0.05 --momentum 0.6 --dropout 0.2 --epochs 3 --batch 7 --eta 0.2 "
             "--schedule step --step-epochs 1 --step-gamma 0.7 --seed 5 --monitor all");
}

TEST_F(Compat, DenseSoftmaxWithRecordedGradients) {
  train_case("dense-softmax",
             "--sizes 784,24,10 --cost log-likelihood --init xavier --record-gradients "
             "--epochs 3 --batch 10 --eta 0.5 --train-size 595 --seed 2");
}

TEST_F(Compat, DenseGradChunkWithShortLastBatch) {
  train_case("dense-chunk",
             "--sizes 784,30,10 --grad-chunk 3 --batch 10 --train-size 595 --epochs 2 --eta 3.0");
}

TEST_F(Compat, DensePlateauAndEarlyStop) {
  train_case("dense-plateau",
             "--sizes 784,12,10 --activation sigmoid --init he --schedule plateau --plateau 1 "
             "--early-stop 3 --epochs 8 --eta 8 --seed 4");
}

TEST_F(Compat, ConvReluStack) {
  train_case("conv-relu",
             "--layers conv:4:5,maxpool:2,conv:6:3,avgpool:2,fc:20,softmax:10 --activation relu "
             "--eta 0.05 --epochs 2 --lambda 0.1 --seed 6");
}

TEST_F(Compat, ConvDropoutNetwork3Style) {
  train_case("conv-dropout",
             "--layers conv:3:5:1:2,maxpool:2,dropout:0.3,fc:16,dropout:0.2,softmax:10 "
             "--activation sigmoid --eta 0.1 --epochs 2 --l2-style network3 --lambda 0.5 "
             "--no-shuffle --momentum 0.5 --record-gradients --monitor all --seed 7");
}

TEST_F(Compat, ConvInvertedDropoutTanhChunked) {
  train_case("conv-inverted",
             "--layers conv:3:3:2,dropout:0.25,fc:12,softmax:10 --inverted-dropout "
             "--activation tanh,relu --eta 0.05 --epochs 2 --batch 8 --grad-chunk 3 "
             "--train-size 597 --seed 8");
}

TEST_F(Compat, ConvSigmoidOutputCrossEntropy) {
  train_case("conv-sigmoid-out",
             "--layers conv:2:5,maxpool:2,fc:10 --activation sigmoid --cost cross-entropy "
             "--init default --eta 0.5 --epochs 2 --seed 9");
}

// A checkpoint written by the old code after one epoch resumes to the old code's bytes.
TEST_F(Compat, OldCheckpointsResumeToTheSameBytes) {
  struct Case {
    const char* name;
    const char* flags;
  } cases[] = {
      {"resume-dense", "--sizes 784,8,10 --momentum 0.5 --dropout 0.1 --eta 1 --seed 11"},
      {"resume-conv",
       "--layers conv:2:5,maxpool:2,dropout:0.2,fc:12,softmax:10 --activation relu --eta 0.05 "
       "--seed 12"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string dir = tmp_ + "/" + c.name, saved = golden_dir() + "/files/" + c.name + ".bin";
    fs::create_directories(dir);
    if (writing() && !fs::exists(saved)) {  // both CPU paths resume the same file
      const auto r = nnet("train -q --data " + tmp_ + "/data " + c.flags + " --epochs 1 " +
                          "--checkpoint " + dir);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      fs::create_directories(golden_dir() + "/files");
      fs::copy_file(dir + "/checkpoint.bin", saved, fs::copy_options::overwrite_existing);
    } else {
      fs::copy_file(saved, dir + "/checkpoint.bin");
    }
    const std::string model = tmp_ + "/" + c.name + ".json";
    const auto r = nnet("train -q --data " + tmp_ + "/data --resume " + dir + " --epochs 3 --save " +
                        model);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    expect_golden(std::string(c.name) + ".out", r.out);
    expect_golden(std::string(c.name) + ".model.sha256", model_sha256(model) + "\n");
  }
}

// Model files written by the old code load and evaluate to the same figures: its JSON files, and
// HDF5 files in its layout, which tests/oracle/network2_io.py (h5py) writes from those JSON files
// (a binary .h5 in git would be a data file; the layout is the file format, the bytes are h5py's).
TEST_F(Compat, OldModelFilesLoad) {
  struct Case {
    const char* name;
    const char* flags;
  } cases[] = {
      {"model-dense", "--sizes 784,6,10 --epochs 1 --eta 2 --seed 13"},
      {"model-conv", "--layers conv:2:5,maxpool:2,fc:8,softmax:10 --epochs 1 --eta 0.1 --seed 14"},
  };
  for (const Case& c : cases)
    for (const char* ext : {".json", ".h5"}) {
      SCOPED_TRACE(std::string(c.name) + ext);
      const std::string json = golden_dir() + "/files/" + c.name + ".json";
      if (writing() && !fs::exists(json)) {  // both CPU paths load the same file
        fs::create_directories(golden_dir() + "/files");
        const auto r = nnet("train -q --data " + tmp_ + "/data " + c.flags + " --save " + json);
        ASSERT_EQ(r.exit_code, 0) << r.err;
      }
      std::string file = json;
      if (std::string(ext) == ".h5") {
        const std::string py = testing::debian_python();
        ASSERT_FALSE(py.empty()) << "the old HDF5 layout is written by Debian's python3-h5py";
        file = tmp_ + "/" + c.name + ".h5";
        const auto r = testing::run_command(py + " '" NNET_SOURCE_DIR
                                            "/tests/oracle/network2_io.py' old-h5 '" + json +
                                            "' '" + file + "'");
        ASSERT_EQ(r.exit_code, 0) << r.err;
      }
      const auto r = nnet("eval --data " + tmp_ + "/data --model " + file);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      expect_golden(std::string(c.name) + ext + ".eval", r.out);
    }
}

}  // namespace
}  // namespace nnet
