// History files: round trip, and hostile files refused with a message instead of a crash.
#include "nnet/history.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace nnet {
namespace {

TEST(History, RoundTripKeepsEveryFigure) {
  const std::string dir = testing::make_temp_dir("nnet-history");
  History h;
  h.options = testing::json_value(R"({"eta": 0.5, "seed": 3})");
  EpochReport r;
  r.epoch = 0;
  r.eta = 0.5;
  r.training_cost = 0.123456789012345678;
  r.training_correct = 812;
  r.training_total = 1000;
  r.evaluation_correct = 7000;
  r.evaluation_total = 10000;
  r.bias_grad_norm = {0.1, 0.02};
  h.epochs = {r};
  ASSERT_TRUE(save_history(dir + "/h.json", h).ok());
  History back;
  Status s = load_history(dir + "/h.json", &back);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(back.epochs.size(), 1u);
  EXPECT_EQ(back.epochs[0].training_cost, r.training_cost);  // exact: 17 digits
  EXPECT_EQ(back.epochs[0].evaluation_correct, 7000);
  EXPECT_EQ(back.epochs[0].evaluation_cost, -1);  // not monitored stays "absent"
  EXPECT_EQ(back.epochs[0].bias_grad_norm, r.bias_grad_norm);
  EXPECT_EQ(back.options["seed"], 3);
  ASSERT_TRUE(save_history(dir + "/h.csv", h).ok());
  testing::CommandResult csv = testing::run_command("head -1 '" + dir + "/h.csv'");
  EXPECT_EQ(csv.out.rfind("epoch,eta,training_cost", 0), 0u);
}

TEST(History, HostileFilesAreRefused) {
  const std::string dir = testing::make_temp_dir("nnet-history");
  const std::pair<const char*, const char*> cases[] = {
      {"{\"format\": 5, \"epochs\": []}", "nnet-history"},
      {"[1, 2, 3]", "nnet-history"},
      {"{\"format\": \"nnet-history\"}", "epochs"},
      {"{\"format\": \"nnet-history\", \"epochs\": [{\"epoch\": \"x\"}]}", "epochs[0].epoch"},
      {"{\"format\": \"nnet-history\", \"epochs\": [{\"epoch\": 0, \"eta\": \"fast\"}]}",
       "epochs[0].eta"},
      {"{\"format\": \"nnet-history\", \"epochs\": [{\"epoch\": 0, \"training_correct\": -4}]}",
       "training_correct"},
      {"{\"format\": \"nnet-history\", \"options\": 7, \"epochs\": [5]}",
       "epochs[0]: expected an object"},
      {"{\"format\": \"nnet-hist", "invalid JSON"},
  };
  for (const auto& [text, want] : cases) {
    ASSERT_TRUE(testing::write_file(dir + "/bad.json", text));
    History h;
    Status s = load_history(dir + "/bad.json", &h);
    EXPECT_EQ(s.code(), Code::kDataError) << text;
    EXPECT_NE(s.message().find(want), std::string::npos) << text << " -> " << s.message();
    // The in-memory entry point (used by the fuzzer) says the same.
    s = parse_history(text, "mem.json", &h);
    EXPECT_EQ(s.code(), Code::kDataError) << text;
    EXPECT_NE(s.message().find(want), std::string::npos) << text << " -> " << s.message();
  }
  History h;
  EXPECT_EQ(load_history(dir + "/missing.json", &h).code(), Code::kNoInput);
}

}  // namespace
}  // namespace nnet
