// Early stopping and learning-rate schedules on a synthetic set whose evaluation accuracy cannot
// change: 10 identical blank images labelled 0..9, so any network gets exactly 1 / 10 right every
// epoch. The first epoch is therefore the best and every later one "does not improve", which
// makes the stopping epoch and every eta predictable. Runtime: ~10 ms.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "nnet/network.h"
#include "nnet/train.h"

namespace nnet {
namespace {

Dataset tiny(int n, bool blank, uint32_t seed) {
  Dataset d;
  d.rows = 1;
  d.cols = 4;
  std::mt19937 rng(seed);
  for (int i = 0; i < n * 4; ++i)
    d.images.push_back(blank ? 0.0f : static_cast<float>(rng() % 256) / 256.0f);
  for (int i = 0; i < n; ++i) d.labels.push_back(static_cast<uint8_t>(blank ? i % 10 : rng() % 10));
  return d;
}

struct Outcome {
  Network net;
  TrainState state;
  Status status;
};

Outcome run(const TrainOptions& o) {
  Outcome r{Network(sigmoid_architecture({4, 5, 10}, Cost::kCrossEntropy)), {}, {}};
  init_params(r.net, Init::kDefault, 1);
  const Dataset train_set = tiny(20, false, 3), eval_set = tiny(10, true, 0);
  r.state = initial_state(r.net, train_set.size(), o);
  r.status = train(r.net, train_set, &eval_set, o, {}, &r.state);
  return r;
}

TEST(EarlyStop, StopsAfterExactlyNEpochsAndRestoresTheBest) {
  TrainOptions o;
  o.epochs = 50;
  o.batch = 5;
  o.eta = 1.0;
  o.early_stop = 3;
  o.threads = 1;
  Outcome r = run(o);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  // Epoch 0 is the best (1 / 10); epochs 1, 2, 3 do not improve -> stop after epoch 3.
  ASSERT_EQ(r.state.history.size(), 4u);
  for (const EpochReport& e : r.state.history) EXPECT_EQ(e.evaluation_correct, 1);
  EXPECT_EQ(r.state.stop_reason, "early stop");
  EXPECT_EQ(r.state.best_epoch, 0);
  // The weights handed back are those after epoch 0, i.e. what a 1-epoch run ends with.
  TrainOptions one = o;
  one.epochs = 1;
  one.early_stop = 0;
  Outcome first = run(one);
  EXPECT_EQ(r.net.params(), first.net.params());
  // ... and not the last epoch's weights.
  TrainOptions four = one;
  four.epochs = 4;
  EXPECT_NE(r.net.params(), run(four).net.params());
}

TEST(Schedule, PlateauHalvesEveryPEpochsAndStopsAtEta0Over128) {
  TrainOptions o;
  o.epochs = 1000;
  o.batch = 5;
  o.eta = 0.8;
  o.schedule = Schedule::kHalveOnPlateau;
  o.plateau_epochs = 2;
  o.threads = 1;
  Outcome r = run(o);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  // Halvings after epochs 2, 4, ..., 14 (every P = 2 epochs without improvement); the 7th brings
  // eta down to eta0/128, where the book stops: 7 * P + 1 = 15 epochs, the last ones at eta0/64.
  ASSERT_EQ(r.state.history.size(), 15u);
  EXPECT_EQ(r.state.stop_reason, "eta reached eta0/128");
  for (const EpochReport& e : r.state.history) {
    const int halvings = e.epoch == 0 ? 0 : (e.epoch - 1) / o.plateau_epochs;
    EXPECT_EQ(e.eta, o.eta / std::pow(2.0, halvings)) << "epoch " << e.epoch;
  }
  EXPECT_EQ(r.state.history.back().eta, o.eta / 64);
  EXPECT_EQ(r.state.eta, o.eta / 128);
}

TEST(Schedule, StepMultipliesByGammaEveryStepEpochs) {
  TrainOptions o;
  o.epochs = 8;
  o.batch = 5;
  o.eta = 0.8;
  o.schedule = Schedule::kStep;
  o.step_epochs = 3;
  o.step_gamma = 0.5;
  o.threads = 1;
  Outcome r = run(o);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  const double want[] = {0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2};
  ASSERT_EQ(r.state.history.size(), 8u);
  for (int e = 0; e < 8; ++e) EXPECT_EQ(r.state.history[e].eta, want[e]) << "epoch " << e;
}

TEST(Schedule, ConstantKeepsEtaAndRunsEveryEpoch) {
  TrainOptions o;
  o.epochs = 5;
  o.batch = 5;
  o.eta = 0.3;
  o.threads = 1;
  Outcome r = run(o);
  ASSERT_TRUE(r.status.ok());
  ASSERT_EQ(r.state.history.size(), 5u);
  for (const EpochReport& e : r.state.history) EXPECT_EQ(e.eta, 0.3);
  EXPECT_EQ(r.state.stop_reason, "");
}

}  // namespace
}  // namespace nnet
