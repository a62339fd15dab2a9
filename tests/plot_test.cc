// Plots: learning curves and gradient norms as PNG and SVG, and refusal of bad histories.
#include "nnet/plot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "nnet/image.h"
#include "test_util.h"

namespace nnet {
namespace {

History make_history(int epochs, double shift, bool gradients, bool monitors = true) {
  History h;
  h.options = testing::json_value(R"({"eta": 0.5})");
  for (int e = 0; e < epochs; ++e) {
    EpochReport r;
    r.epoch = e;
    r.eta = 0.5;
    if (monitors) {
      r.training_cost = 1.0 / (e + 1) + shift;
      r.training_correct = 9000 - 3000 / (e + 1);
      r.training_total = 9000;
      r.evaluation_cost = 1.2 / (e + 1) + shift;
    }
    r.evaluation_correct = 9000 + 100 * e - static_cast<long>(shift * 1000);
    r.evaluation_total = 10000;
    if (gradients)
      r.bias_grad_norm = {0.01 * std::exp(-0.1 * e), 0.05 * std::exp(-0.1 * e), 0.4, 0.9};
    h.epochs.push_back(r);
  }
  return h;
}

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Pixels of (roughly) a given colour, to tell that lines were drawn.
long count_color(const Image& img, int r, int g, int b) {
  long n = 0;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      const uint8_t* p = img.at(x, y);
      n += std::abs(p[0] - r) < 30 && std::abs(p[1] - g) < 30 && std::abs(p[2] - b) < 30;
    }
  return n;
}

TEST(Plot, CurvesPngAndSvg) {
  const std::string dir = testing::make_temp_dir("nnet-plot");
  std::vector<PlotRun> runs = {{"eta 0.5", make_history(30, 0, false)},
                               {"eta 3.0", make_history(30, 0.1, false)}};
  ASSERT_TRUE(plot_curves(runs, dir + "/c.png").ok());
  Image img;
  Status s = read_image(dir + "/c.png", ImageLimits{}, &img);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(img.width, 1280);
  EXPECT_GT(img.height, 800);
  EXPECT_GT(count_color(img, 31, 119, 180), 4 * 500) << "run 1's blue lines in four panels";
  EXPECT_GT(count_color(img, 255, 127, 14), 4 * 500) << "run 2's orange lines";
  EXPECT_GT(count_color(img, 0, 0, 0), 2000) << "text and frames";

  ASSERT_TRUE(plot_curves(runs, dir + "/c.svg").ok());
  const std::string svg = slurp(dir + "/c.svg");
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_GT(svg.size(), 20000u);
}

TEST(Plot, UnmonitoredPanelsAndEmptyHistories) {
  const std::string dir = testing::make_temp_dir("nnet-plot");
  // Only evaluation accuracy (the notebook's default): still a figure.
  std::vector<PlotRun> runs = {{"default", make_history(5, 0, false, false)}};
  EXPECT_TRUE(plot_curves(runs, dir + "/a.png").ok());
  runs[0].history.epochs.clear();
  Status s = plot_curves(runs, dir + "/b.png");
  EXPECT_EQ(s.code(), Code::kDataError) << s.message();
}

TEST(Plot, GradientsOnLogAxis) {
  const std::string dir = testing::make_temp_dir("nnet-plot");
  std::vector<PlotRun> runs = {{"deep", make_history(30, 0, true)}};
  ASSERT_TRUE(plot_gradients(runs, dir + "/g.png").ok());
  Image img;
  ASSERT_TRUE(read_image(dir + "/g.png", ImageLimits{}, &img).ok());
  EXPECT_GT(count_color(img, 31, 119, 180), 500);
  EXPECT_GT(count_color(img, 214, 39, 40), 500) << "fourth layer (red)";
  ASSERT_TRUE(plot_gradients(runs, dir + "/g.svg").ok());
  runs[0].history = make_history(3, 0, false);
  Status s = plot_gradients(runs, dir + "/n.png");
  EXPECT_EQ(s.code(), Code::kDataError);
  EXPECT_NE(s.message().find("--record-gradients"), std::string::npos);
}

// A stack's history names its weight layers by their --layers spelling; a dense one (or a spec
// that does not match the recorded layers) gets the book's "hidden layer" / "output layer".
TEST(Plot, GradientLegendNamesStackLayers) {
  History h;
  h.options["layers"] = "conv:20:5,maxpool:2,dropout:0.5,fc:100,softmax:10";
  EXPECT_EQ(
      weight_layer_names(h, 3),
      (std::vector<std::string>{"layer 1: conv:20:5", "layer 2: fc:100", "layer 3: softmax:10"}));
  EXPECT_EQ(weight_layer_names(h, 2), (std::vector<std::string>{"hidden layer 1", "output layer"}));
  h.options["layers"] = "";
  EXPECT_EQ(weight_layer_names(h, 3),
            (std::vector<std::string>{"hidden layer 1", "hidden layer 2", "output layer"}));
  h.options["layers"] = "conv:x";
  EXPECT_EQ(weight_layer_names(h, 1), (std::vector<std::string>{"output layer"}));
}

TEST(PlotCli, WritesFilesAndRefusesBadHistories) {
  const std::string dir = testing::make_temp_dir("nnet-plot");
  ASSERT_TRUE(save_history(dir + "/run.json", make_history(10, 0, true)).ok());
  auto r = testing::run_nnet("plot " + dir + "/run.json -o " + dir + "/run.png");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = testing::run_nnet("plot --gradients " + dir + "/run.json -o " + dir + "/g.svg");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(slurp(dir + "/g.svg").size(), 5000u);
  ASSERT_TRUE(testing::write_file(dir + "/bad.json",
                                  "{\"format\": \"nnet-history\", \"epochs\": "
                                  "[{\"epoch\": \"x\"}]}"));
  r = testing::run_nnet("plot " + dir + "/bad.json -o " + dir + "/bad.png");
  EXPECT_EQ(r.exit_code, 65) << r.err;
  EXPECT_NE(r.err.find("epochs[0]"), std::string::npos) << r.err;
  ASSERT_TRUE(testing::write_file(dir + "/junk.json", "not json"));
  r = testing::run_nnet("plot " + dir + "/junk.json -o " + dir + "/bad.png");
  EXPECT_EQ(r.exit_code, 65) << r.err;
  r = testing::run_nnet("plot " + dir + "/missing.json -o " + dir + "/bad.png");
  EXPECT_EQ(r.exit_code, 66) << r.err;
  r = testing::run_nnet("plot " + dir + "/run.json " + dir + "/run.json --label a -o " + dir +
                        "/x.png");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = testing::run_nnet("plot " + dir + "/run.json -o " + dir + "/run.json");
  EXPECT_EQ(r.exit_code, 73) << "refuses to overwrite its input: " << r.err;
}

}  // namespace
}  // namespace nnet
