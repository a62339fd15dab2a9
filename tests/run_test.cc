// The one definition of a run (nnet/run.h): the option table, what derives from it (TrainOptions,
// the architecture, checkpoint and recorded JSON, the CLI's flags) and its checks' messages.
// Runtime: ~1 s.
#include "nnet/run.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "nnet/model_io.h"
#include "nnet/run_json.h"
#include "synthetic_data.h"
#include "test_util.h"

namespace nnet {
namespace {

using testing::run_nnet;

TEST(RunOptionsTable, NamesFlagsKeywordsAndKeysAreUnique) {
  std::set<std::string> names, flags, keywords, keys, fields;
  for (const OptionInfo& o : run_options()) {
    EXPECT_TRUE(names.insert(o.name).second) << o.name;
    EXPECT_TRUE(keywords.insert(o.keyword ? o.keyword : o.name).second) << o.name;
    if (o.uses & kFlag) EXPECT_TRUE(flags.insert(flag_spelling(o)).second) << o.name;
    if (o.uses & kCheckpointed) EXPECT_TRUE(keys.insert(checkpoint_key(o)).second) << o.name;
    EXPECT_EQ(find_option(o.name), &o);
    EXPECT_EQ(find_option(o.field), &o);
    EXPECT_NE(std::string(o.doc), "") << o.name;
  }
  EXPECT_EQ(find_option("lmbda", /*keyword=*/true), find_option("lambda"));
  EXPECT_EQ(find_option("lmbda"), nullptr);
  EXPECT_EQ(flag_spelling(*find_option("shuffle")), "--no-shuffle");
  EXPECT_EQ(checkpoint_key(*find_option("shuffle")), "no_shuffle");
  EXPECT_EQ(flag_spelling(*find_option("grad_chunk")), "--grad-chunk");
  EXPECT_EQ(flag_spelling(*find_option("plateau")), "--plateau");
}

TEST(RunOptionsTable, DefaultsPassAndGiveTheEnginesDefaults) {
  const RunOptions run;
  ASSERT_TRUE(check_options(run).ok()) << check_options(run).message();
  TrainOptions got;
  ASSERT_TRUE(train_options(run, &got).ok());
  const TrainOptions want;
  for (const OptionInfo& o : run_options())
    std::visit(
        [&](auto f) {
          if constexpr (!std::is_same_v<decltype(f), std::monostate>)
            if (o.engine != EngineField(&TrainOptions::watch_health))
              EXPECT_EQ(got.*f, want.*f) << o.name;
        },
        o.engine);
  EXPECT_TRUE(got.watch_health);  // hints on, as nnet train has it
  EXPECT_EQ(got.schedule, want.schedule);
  EXPECT_EQ(got.l2_style, want.l2_style);
  EXPECT_EQ(got.device, want.device);
  EXPECT_TRUE(got.monitor_evaluation_accuracy);
  EXPECT_FALSE(got.monitor_training_cost);
}

TEST(RunOptionsTable, SpelledOptionsBecomeTheEnginesValues) {
  RunOptions run;
  run.schedule = "plateau";
  run.plateau = 3;
  run.l2_style = "network3";
  run.monitor = {"training-cost,evaluation-cost"};
  run.shuffle = false;
  run.hints = false;
  run.lambda = 0.5;
  TrainOptions t;
  ASSERT_TRUE(train_options(run, &t).ok());
  EXPECT_EQ(t.schedule, Schedule::kHalveOnPlateau);
  EXPECT_EQ(t.plateau_epochs, 3);
  EXPECT_EQ(t.l2_style, L2Style::kNetwork3);
  EXPECT_TRUE(t.monitor_training_cost && t.monitor_evaluation_cost);
  EXPECT_FALSE(t.monitor_training_accuracy);
  EXPECT_FALSE(t.shuffle || t.watch_health);
  EXPECT_EQ(t.lambda, 0.5);
}

// Errors name the option; validate(TrainOptions) checks the same ranges with the same words.
TEST(RunOptionsTable, ChecksNameTheOption) {
  auto message = [](void (*edit)(RunOptions&)) {
    RunOptions r;
    edit(r);
    const Status s = check_options(r);
    EXPECT_EQ(s.code(), Code::kUsage);
    return s.message();
  };
  EXPECT_EQ(message([](RunOptions& r) { r.eta = 0; }),
            "eta: expected a finite number > 0, found 0.000000");
  EXPECT_EQ(message([](RunOptions& r) { r.lambda = std::nan(""); }).rfind("lambda: expected", 0),
            0u);
  EXPECT_EQ(message([](RunOptions& r) { r.dropout = 1; }),
            "dropout: expected a probability in [0, 1), found 1.000000");
  EXPECT_EQ(message([](RunOptions& r) { r.step_gamma = 0; }),
            "step_gamma: expected a number in (0, 1], found 0.000000");
  EXPECT_EQ(message([](RunOptions& r) { r.grad_chunk = -1; }),
            "grad_chunk: expected an integer >= 0, found -1");
  EXPECT_EQ(message([](RunOptions& r) { r.schedule = "weird"; }),
            "schedule: expected constant, step or plateau, found 'weird'");
  EXPECT_EQ(message([](RunOptions& r) { r.monitor = {"all", "foo"}; }),
            "monitor: expected all, training-cost, training-accuracy, evaluation-cost or "
            "evaluation-accuracy, found 'foo'");
  EXPECT_EQ(message([](RunOptions& r) { r.activation = {"relu", "tanh"}; }),
            "activation: expected one name or one per hidden layer (1), found 2");
  EXPECT_EQ(message([](RunOptions& r) { r.init = "network3"; }),
            "init network3: applies to layer stacks only");
  EXPECT_EQ(message([](RunOptions& r) { r.inverted_dropout = true; }).rfind("inverted_dropout: ", 0),
            0u);
  EXPECT_EQ(message([](RunOptions& r) { r.layers = "conv:x:5"; }).rfind("layers: item 1", 0), 0u);
  TrainOptions t;
  t.momentum = 1;
  EXPECT_EQ(validate(t).message(), "momentum: expected a number in [0, 1), found 1.000000");
  t = TrainOptions();
  t.plateau_epochs = 0;
  EXPECT_EQ(validate(t).message(), "plateau: expected an integer >= 1, found 0");
}

TEST(RunOptionsTable, GetSetAndText) {
  RunOptions r;
  const OptionInfo& eta = *find_option("eta");
  EXPECT_TRUE(set_option(&r, eta, OptionValue(3.0)));
  EXPECT_EQ(r.eta, 3.0);
  EXPECT_FALSE(set_option(&r, eta, OptionValue(3)));  // an int is not the double it holds
  EXPECT_EQ(option_text(get_option(r, eta)), "3.0");
  EXPECT_EQ(option_text(get_option(r, *find_option("sizes"))), "784,30,10");
  EXPECT_EQ(option_text(OptionValue(std::vector<std::string>{"relu", "tanh"})), "relu,tanh");
  EXPECT_EQ(option_text(OptionValue(uint32_t{12345678})), "12345678");
}

TEST(MakeArchitecture, DenseNetsAsSizesSpellThem) {
  RunOptions r;
  r.sizes = {784, 20, 16, 10};
  r.activation = {"relu", "tanh"};
  r.cost = "log-likelihood";
  Architecture a;
  ASSERT_TRUE(make_architecture(r, Shape{1, 28, 28}, 10, &a).ok());
  EXPECT_EQ(a.sizes, r.sizes);
  EXPECT_EQ(a.activations, (std::vector<Activation>{Activation::kRelu, Activation::kTanh,
                                                   Activation::kSoftmax}));
  EXPECT_EQ(a.cost, Cost::kLogLikelihood);
  // The same limits as validate(): the first size is the image's.
  const Status s = make_architecture(r, Shape{1, 10, 10}, 10, &a);
  EXPECT_EQ(s.message(), "sizes: first layer must equal the image size 100, found 784");
}

TEST(MakeArchitecture, StacksOnTheDatasShapeOrTheirOwn) {
  RunOptions r;
  r.layers = "conv:2:3,dropout:0.5,fc:10,softmax:10";
  r.activation = {"relu"};
  r.cost = "log-likelihood";
  r.init = "network3";
  r.inverted_dropout = true;
  Architecture a;
  ASSERT_TRUE(make_architecture(r, Shape{1, 14, 14}, 10, &a).ok());
  EXPECT_EQ(a.input, (Shape{1, 14, 14}));
  EXPECT_TRUE(a.layers[1].inverted);
  EXPECT_EQ(a.layers[0].activation, Activation::kRelu);
  r.input_shape = {2, 7, 14};  // the same 196 values, as two channels
  ASSERT_TRUE(make_architecture(r, Shape{1, 14, 14}, 10, &a).ok());
  EXPECT_EQ(a.input, (Shape{2, 7, 14}));
  r.input_shape = {1, 7, 7};
  EXPECT_EQ(make_architecture(r, Shape{1, 14, 14}, 10, &a).message().rfind("layers: input shape", 0),
            0u);
  r.input_shape = {1, 0, 7};
  EXPECT_EQ(make_architecture(r, Shape{1, 14, 14}, 10, &a).message(),
            "input_shape: expected (channels, height, width), all >= 1");
}

// A saved model's spelling builds the very architecture it was saved from (--init-from).
TEST(MakeArchitecture, SpelledBackFromASavedModel) {
  for (const char* layers : {"", "conv:3:5:1:2,maxpool:2,fc:12,softmax:10"}) {
    RunOptions r;
    r.layers = layers;
    r.sizes = {784, 12, 10};
    r.activation = {"tanh"};
    r.cost = r.layers.empty() ? "cross-entropy" : "log-likelihood";
    Architecture a;
    ASSERT_TRUE(make_architecture(r, Shape{1, 28, 28}, 10, &a).ok()) << layers;
    RunOptions back;
    spell_architecture(Network(a).arch(), &back);
    Architecture b;
    ASSERT_TRUE(make_architecture(back, Shape{1, 28, 28}, 10, &b).ok()) << layers;
    EXPECT_EQ(Network(a).arch().sizes, Network(b).arch().sizes) << layers;
    EXPECT_EQ(Network(a).arch().activations, Network(b).arch().activations) << layers;
    EXPECT_EQ(back.layers, r.layers);
    EXPECT_EQ(back.cost, r.cost);
  }
}

TEST(RunJson, CheckpointKeysAreTheOldOnes) {
  RunOptions r;
  r.shuffle = false;
  const Value j = checkpoint_options(r);
  for (const char* key :
       {"data", "validation_size", "sizes", "epochs", "batch", "eta", "seed", "train_size", "eval",
        "cost", "activation", "init", "lambda", "l1", "dropout", "momentum", "schedule",
        "step_epochs", "step_gamma", "plateau", "early_stop", "monitor", "record_gradients",
        "expand", "layers", "no_shuffle", "l2_style", "inverted_dropout", "grad_chunk", "device"})
    EXPECT_TRUE(j.find(key)) << key;
  EXPECT_EQ(j.as_object().size(), 30u);
  EXPECT_EQ(*j.find("no_shuffle"), Value(true));
  RunOptions back;
  for (const OptionInfo& o : run_options()) {
    if (o.uses & kCheckpointed) {
      ASSERT_TRUE(set_checkpoint_value(&back, o, *j.find(checkpoint_key(o)))) << o.name;
    }
  }
  EXPECT_FALSE(back.shuffle);
  EXPECT_FALSE(set_checkpoint_value(&back, *find_option("sizes"), Value("784")));
  // Integers are taken exactly and in range: no truncation, no wrap-around.
  EXPECT_TRUE(set_checkpoint_value(&back, *find_option("batch"), Value(3.0)));
  EXPECT_EQ(back.batch, 3);
  EXPECT_FALSE(set_checkpoint_value(&back, *find_option("batch"), Value(3.5)));
  EXPECT_FALSE(set_checkpoint_value(&back, *find_option("batch"), Value(uint64_t{1} << 40)));
  EXPECT_FALSE(set_checkpoint_value(&back, *find_option("seed"), Value(-1)));
  EXPECT_EQ(back.batch, 3);
}

TEST(RunJson, RecordedOptionsKeepTheirShape) {
  RunOptions r;
  r.sizes = {784, 16, 10};
  Architecture a;
  ASSERT_TRUE(make_architecture(r, Shape{1, 28, 28}, 10, &a).ok());
  Value j = recorded_options(r, a, "the/data");
  EXPECT_EQ(j.as_object().size(), 21u) << j.dump();
  EXPECT_EQ(*j.find("data"), Value("the/data"));
  EXPECT_EQ(j.find("activations")->dump(), R"(["sigmoid","sigmoid"])");
  EXPECT_EQ(*j.find("shuffle"), Value(true));
  EXPECT_EQ(*j.find("train_size"), Value(-1));
  for (const char* absent : {"layers", "grad_chunk", "device", "activation", "monitor"})
    EXPECT_FALSE(j.find(absent)) << absent;
  r.layers = "fc:8,softmax:10";
  r.cost = "log-likelihood";
  r.grad_chunk = 2;
  r.device = "cuda";
  ASSERT_TRUE(make_architecture(r, Shape{1, 28, 28}, 10, &a).ok());
  j = recorded_options(r, Network(a).arch(), "d");
  EXPECT_EQ(*j.find("layers"), Value("fc:8,softmax:10"));
  EXPECT_EQ(*j.find("grad_chunk"), Value(2));
  EXPECT_EQ(*j.find("device"), Value("cuda"));
  EXPECT_EQ(j.find("sizes")->dump(), "[784,8,10]");
  EXPECT_EQ(j.find("activations")->dump(), R"(["sigmoid","softmax"])");
}

// nnet train has a flag for every flag entry, and names the flag in the table's messages.
TEST(RunFlags, EveryFlagEntryIsAFlagAndMessagesNameFlags) {
  const auto help = run_nnet("train --help");
  ASSERT_EQ(help.exit_code, 0) << help.err;
  for (const OptionInfo& o : run_options())
    if (o.uses & kFlag)
      EXPECT_NE(help.out.find(flag_spelling(o) + " "), std::string::npos) << flag_spelling(o);
  const std::string dir = testing::make_temp_dir("nnet-run");
  ASSERT_TRUE(testing::write_synthetic_idx(dir, 100, 20));
  const std::string data = " --data '" + dir + "' -q";
  auto r = run_nnet("train --step-gamma 2" + data);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("nnet: --step-gamma: expected a number in (0, 1], found 2.000000"),
            std::string::npos)
      << r.err;
  r = run_nnet("train --hints maybe" + data);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("nnet: --hints: expected on or off, found 'maybe'"), std::string::npos)
      << r.err;
  r = run_nnet("train --layers fc:10,softmax:5 --epochs 1" + data);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("nnet: --layers: "), std::string::npos) << r.err;
  // The stack's input is the data's images (here 28x28, as MNIST's).
  r = run_nnet("train --layers conv:2:5,maxpool:2,fc:10,softmax:10 --epochs 1" + data);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nnet
