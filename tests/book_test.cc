// `nnet book`: the recipe table, flag merging, and one recipe run with overrides on synthetic
// data. Runtime: ~0.5 s.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "nnet/recipes.h"
#include "synthetic_data.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace nnet {
namespace {

using testing::run_nnet;

TEST(BookRecipes, ListShowsEveryRecipeWithTheBooksFigure) {
  auto r = run_nnet("book --list");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const Recipe& x : book_recipes()) {
    EXPECT_NE(r.out.find(x.name), std::string::npos) << x.name;
    EXPECT_NE(r.out.find(x.book_figure), std::string::npos) << x.name;
  }
  for (const char* fig :
       {"95.42%", "96.59%", "82.27%", "87.1%", "96.49%", "97.92%", "96.57%", "97.80%", "98.78%",
        "99.06%", "99.23%", "99.37%", "99.43%", "99.60%", "99.67%"})
    EXPECT_NE(r.out.find(fig), std::string::npos) << fig;
}

TEST(BookRecipes, HoldTheBooksSettings) {
  const Recipe* r = find_recipe("ch3-overfitting");
  ASSERT_NE(r, nullptr);
  for (const char* option : {"sizes", "epochs", "batch", "eta", "cost", "init", "train_size"})
    EXPECT_TRUE(recipe_sets(*r, option)) << option;
  const RunOptions o = recipe_options(*r);
  EXPECT_EQ(o.sizes, (std::vector<int>{784, 30, 10}));
  EXPECT_EQ(o.epochs, 400);
  EXPECT_EQ(o.batch, 10);
  EXPECT_EQ(o.eta, 0.5);
  EXPECT_EQ(o.cost, "cross-entropy");
  EXPECT_EQ(o.init, "large");
  EXPECT_EQ(o.train_size, 1000);
  EXPECT_EQ(o.monitor, std::vector<std::string>{"all"});
  EXPECT_EQ(o.seed, 12345678u);
  EXPECT_NE(find_recipe("ch5-deep"), nullptr);
  EXPECT_EQ(find_recipe("ch9"), nullptr);
}

// A recipe's settings are typed overrides of the option table: each names an option that
// `nnet train` has a flag for, and every recipe's options pass the table's checks.
TEST(BookRecipes, SetOptionsOfTheTable) {
  for (const Recipe& r : book_recipes()) {
    for (const RecipeSetting& s : r.settings) {
      const OptionInfo* o = find_option(s.field);
      ASSERT_NE(o, nullptr) << r.name;
      EXPECT_TRUE(o->uses & kFlag) << r.name << " " << o->name;
      RunOptions x;
      EXPECT_TRUE(set_option(&x, *o, s.value)) << r.name << " " << o->name;
    }
    const Status st = check_options(recipe_options(r));
    EXPECT_TRUE(st.ok()) << r.name << ": " << st.message();
  }
}

// Chapter 6 follows network3: its init and cost, its L2 scaling, no reshuffling, the test images.
TEST(BookRecipes, ChapterSixFollowsNetwork3) {
  for (const Recipe& r : book_recipes()) {
    if (r.name.rfind("ch6-", 0) != 0) continue;
    for (const char* option : {"init", "cost", "l2_style", "shuffle", "layers", "eval"})
      EXPECT_TRUE(recipe_sets(r, option)) << r.name << " " << option;
    const RunOptions o = recipe_options(r);
    EXPECT_EQ(o.init, "network3") << r.name;
    EXPECT_EQ(o.cost, "log-likelihood") << r.name;
    EXPECT_EQ(o.l2_style, "network3") << r.name;
    EXPECT_FALSE(o.shuffle) << r.name;
    EXPECT_EQ(o.eval, "test") << r.name;
  }
  const Recipe* relu = find_recipe("ch6-relu");
  ASSERT_NE(relu, nullptr);
  const RunOptions o = recipe_options(*relu);
  EXPECT_EQ(o.layers, "conv:20:5,maxpool:2,conv:40:5,maxpool:2,fc:100,softmax:10");
  EXPECT_EQ(o.activation, std::vector<std::string>{"relu"});
  EXPECT_EQ(o.eta, 0.03);
  EXPECT_EQ(o.lambda, 0.1);
  const Recipe* ens = find_recipe("ch6-ensemble");
  const Recipe* dropout = find_recipe("ch6-dropout");
  ASSERT_NE(ens, nullptr);
  ASSERT_NE(dropout, nullptr);
  EXPECT_EQ(ens->ensemble, 5);
  ASSERT_EQ(ens->settings.size(), dropout->settings.size()) << "five ch6-dropout nets";
  for (size_t i = 0; i < ens->settings.size(); ++i) {
    EXPECT_EQ(ens->settings[i].field, dropout->settings[i].field) << i;
    EXPECT_EQ(ens->settings[i].value, dropout->settings[i].value) << i;
  }
  EXPECT_TRUE(recipe_options(*ens).expand);
}

TEST(BookRecipes, RunsAChapterSixRecipe) {
  const std::string dir = testing::make_temp_dir("nnet-book6");
  ASSERT_TRUE(testing::write_synthetic_idx(dir, 200, 50));
  auto r = run_nnet("book ch6-conv1 --data '" + dir + "' --epochs 2 -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("Epoch 0: ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("Epoch 1: "), std::string::npos);
  EXPECT_NE(r.out.find(" / 50\n"), std::string::npos);
  EXPECT_NE(r.err.find("conv:20:5,maxpool:2,fc:100,softmax:10"), std::string::npos) << r.err;
  fs::remove_all(dir);
}

// ch6-ensemble trains five nets (seeds 1-5), saves each, and votes with `nnet eval`.
TEST(BookRecipes, EnsembleTrainsFiveNetsAndVotes) {
  const std::string dir = testing::make_temp_dir("nnet-book-ens");
  ASSERT_TRUE(testing::write_synthetic_idx(dir, 100, 40));
  auto r = testing::run_command("cd '" + dir + "' && '" + NNET_BINARY +
                                "' book ch6-ensemble --data . --epochs 1 -q --layers "
                                "conv:2:5,maxpool:2,dropout:0.5,fc:10,softmax:10");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (int k = 1; k <= 5; ++k) {
    EXPECT_TRUE(fs::exists(dir + "/ch6-ensemble-" + std::to_string(k) + ".json")) << k;
    EXPECT_NE(r.err.find("--seed " + std::to_string(k) + " --save ch6-ensemble-" +
                         std::to_string(k) + ".json"),
              std::string::npos)
        << r.err;
  }
  EXPECT_NE(r.err.find("nnet eval --model ch6-ensemble-1.json"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("(plurality vote of the models below)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("model 5  "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" / 40\n"), std::string::npos) << "the vote is over the test split";
  // Members differ: their seeds differ.
  EXPECT_NE(fs::file_size(dir + "/ch6-ensemble-1.json"), 0u);
  std::ifstream a(dir + "/ch6-ensemble-1.json"), b(dir + "/ch6-ensemble-2.json");
  const std::string sa((std::istreambuf_iterator<char>(a)), {}),
      sb((std::istreambuf_iterator<char>(b)), {});
  EXPECT_NE(sa, sb);
  // The ensemble names its own files: --save is refused.
  r = testing::run_command("cd '" + dir + "' && '" + NNET_BINARY +
                           "' book ch6-ensemble --data . --save x.json");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = testing::run_command("cd '" + dir + "' && '" + NNET_BINARY +
                           "' book ch6-ensemble --data . --seed abc");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--seed: expected an unsigned integer, found 'abc'"), std::string::npos)
      << r.err;
  fs::remove_all(dir);
}

TEST(BookRecipes, OverridesReplaceTheRecipesFlags) {
  const std::vector<std::string> recipe = {
      "--sizes", "784,30,10", "--eta", "3.0", "--record-gradients", "--monitor", "all"};
  EXPECT_EQ(merge_flags(recipe, {"--eta", "0.1", "--data", "d"}),
            (std::vector<std::string>{"--sizes", "784,30,10", "--record-gradients", "--monitor",
                                      "all", "--eta", "0.1", "--data", "d"}));
  EXPECT_EQ(merge_flags(recipe, {"--eta=-1", "-q"}),
            (std::vector<std::string>{"--sizes", "784,30,10", "--record-gradients", "--monitor",
                                      "all", "--eta", "-1", "-q"}));
  EXPECT_EQ(merge_flags(recipe, {}), recipe);
}

TEST(BookRecipes, RunsARecipeWithOverrides) {
  const std::string dir = testing::make_temp_dir("nnet-book");
  ASSERT_TRUE(testing::write_synthetic_idx(dir, 200, 50));
  auto r = run_nnet("book ch1-30-hidden --data '" + dir + "' --epochs 2 --sizes 784,10,10 -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("Epoch 0: ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("Epoch 1: "), std::string::npos);
  EXPECT_EQ(r.out.find("Epoch 2"), std::string::npos) << "--epochs 2 replaced the recipe's 30";
  EXPECT_NE(r.out.find(" / 50\n"), std::string::npos);
  EXPECT_NE(r.err.find("--epochs 2 --sizes 784,10,10 -q"), std::string::npos)
      << "the resolved command is shown: " << r.err;
  EXPECT_EQ(r.err.find("--epochs 30"), std::string::npos) << r.err;
  // Bad recipe names and bad overrides are usage errors.
  r = run_nnet("book ch9-nothing");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("ch1-30-hidden"), std::string::npos) << "lists the names: " << r.err;
  EXPECT_EQ(run_nnet("book ch1-30-hidden --data '" + dir + "' --eta -1").exit_code, 2);
  EXPECT_EQ(run_nnet("book ch1-30-hidden --data '" + dir + "' --no-such-flag 1").exit_code, 2);
  EXPECT_EQ(run_nnet("book").exit_code, 2);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace nnet
