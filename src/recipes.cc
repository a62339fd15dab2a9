#include "nnet/recipes.h"

#include <algorithm>

namespace nnet {

namespace {

// Splits a flag list into groups: a "--flag" token followed by its value tokens ("--a=b" becomes
// {"--a", "b"}). A leading value with no flag forms a group of its own.
std::vector<std::vector<std::string>> groups(const std::vector<std::string>& args) {
  std::vector<std::vector<std::string>> out;
  for (const std::string& a : args) {
    const bool is_flag =
        a.size() > 1 && a[0] == '-' && !(a[1] >= '0' && a[1] <= '9') && a[1] != '.';
    if (is_flag) {
      const size_t eq = a.find('=');
      out.push_back({a.substr(0, eq)});
      if (eq != std::string::npos) out.back().push_back(a.substr(eq + 1));
    } else if (out.empty()) {
      out.push_back({a});
    } else {
      out.back().push_back(a);
    }
  }
  return out;
}

}  // namespace

const std::vector<Recipe>& book_recipes() {
  static const std::vector<Recipe> kRecipes = {
      {"ch1-30-hidden",
       "network.py [784,30,10], quadratic, large init, 30 epochs, batch 10, eta 3.0",
       "95.42% peak (epoch 28, best of three runs)",
       {"--sizes", "784,30,10", "--epochs", "30", "--batch", "10", "--eta", "3.0", "--cost",
        "quadratic", "--init", "large", "--eval", "test"}},
      {"ch1-100-hidden",
       "network.py [784,100,10], otherwise as ch1-30-hidden",
       "96.59%",
       {"--sizes", "784,100,10", "--epochs", "30", "--batch", "10", "--eta", "3.0", "--cost",
        "quadratic", "--init", "large", "--eval", "test"}},
      {"ch3-cross-entropy",
       "network2.py [784,30,10] cross-entropy, large init, 30 epochs, batch 10, eta 0.5",
       "95.49%",
       {"--sizes", "784,30,10", "--epochs", "30", "--batch", "10", "--eta", "0.5", "--cost",
        "cross-entropy", "--init", "large", "--eval", "test"}},
      {"ch3-overfitting",
       "network2.py [784,30,10] cross-entropy, large init, training[:1000], 400 epochs, batch 10, "
       "eta 0.5, all monitors (test data)",
       "82.27% peak (fig/overfitting.json)",
       {"--sizes", "784,30,10", "--epochs",      "400",    "--batch", "10",           "--eta",
        "0.5",     "--cost",    "cross-entropy", "--init", "large",   "--train-size", "1000",
        "--eval",  "test",      "--monitor",     "all",    "--seed",  "12345678"}},
      {"ch3-regularized",
       "ch3-overfitting with lambda 0.1",
       "87.1% peak",
       {"--sizes",      "784,30,10", "--epochs", "400",           "--batch",   "10",
        "--eta",        "0.5",       "--cost",   "cross-entropy", "--init",    "large",
        "--train-size", "1000",      "--eval",   "test",          "--monitor", "all",
        "--lambda",     "0.1",       "--seed",   "12345678"}},
      {"ch3-full",
       "network2.py [784,30,10] cross-entropy, default init, all training data, 30 epochs, "
       "batch 10, eta 0.5, lambda 5.0",
       "96.49%",
       {"--sizes", "784,30,10", "--epochs", "30", "--batch", "10", "--eta", "0.5", "--cost",
        "cross-entropy", "--init", "default", "--lambda", "5.0", "--eval", "test"}},
      {"ch3-100-hidden",
       "network2.py [784,100,10] cross-entropy, default init, 30 epochs, batch 10, eta 0.5, "
       "lambda 5.0 (validation data)",
       "97.92% (validation)",
       {"--sizes", "784,100,10", "--epochs", "30", "--batch", "10", "--eta", "0.5", "--cost",
        "cross-entropy", "--init", "default", "--lambda", "5.0", "--eval", "validation"}},
      {"ch3-100-hidden-60",
       "ch3-100-hidden with 60 epochs and eta 0.1",
       "98.04% (validation)",
       {"--sizes", "784,100,10", "--epochs", "60", "--batch", "10", "--eta", "0.1", "--cost",
        "cross-entropy", "--init", "default", "--lambda", "5.0", "--eval", "validation"}},
      {"ch5-1-hidden",
       "network2.py [784,30,10] cross-entropy, default init, 30 epochs, batch 10, eta 0.1, "
       "lambda 5.0 (validation data)",
       "96.48% (validation)",
       {"--sizes", "784,30,10", "--epochs", "30", "--batch", "10", "--eta", "0.1", "--cost",
        "cross-entropy", "--init", "default", "--lambda", "5.0", "--eval", "validation",
        "--record-gradients"}},
      {"ch5-2-hidden",
       "ch5-1-hidden with [784,30,30,10]",
       "96.90% (validation)",
       {"--sizes", "784,30,30,10", "--epochs", "30", "--batch", "10", "--eta", "0.1", "--cost",
        "cross-entropy", "--init", "default", "--lambda", "5.0", "--eval", "validation",
        "--record-gradients"}},
      {"ch5-deep",
       "ch5-1-hidden with [784,30,30,30,10], gradient norms recorded",
       "96.57% (validation)",
       {"--sizes", "784,30,30,30,10", "--epochs", "30", "--batch", "10", "--eta", "0.1", "--cost",
        "cross-entropy", "--init", "default", "--lambda", "5.0", "--eval", "validation",
        "--record-gradients"}},
      {"ch5-4-hidden",
       "ch5-1-hidden with [784,30,30,30,30,10]",
       "96.53% (validation)",
       {"--sizes", "784,30,30,30,30,10", "--epochs", "30", "--batch", "10", "--eta", "0.1",
        "--cost", "cross-entropy", "--init", "default", "--lambda", "5.0", "--eval", "validation",
        "--record-gradients"}},
      {"ch6-fc100",
       "network3.py FC100 sigmoid + softmax (log-likelihood), 60 epochs, batch 10, eta 0.1 "
       "(network3 scales weights by 1/n_out; nnet's default init uses 1/n_in)",
       "97.80%",
       {"--sizes", "784,100,10", "--epochs", "60", "--batch", "10", "--eta", "0.1", "--cost",
        "log-likelihood", "--activation", "sigmoid", "--init", "default", "--eval", "test"}},
  };
  return kRecipes;
}

const Recipe* find_recipe(const std::string& name) {
  for (const Recipe& r : book_recipes())
    if (r.name == name) return &r;
  return nullptr;
}

std::vector<std::string> merge_flags(const std::vector<std::string>& recipe,
                                     const std::vector<std::string>& overrides) {
  const auto base = groups(recipe), over = groups(overrides);
  std::vector<std::string> out;
  for (const auto& g : base) {
    const bool replaced =
        std::any_of(over.begin(), over.end(), [&](const auto& o) { return o[0] == g[0]; });
    if (!replaced) out.insert(out.end(), g.begin(), g.end());
  }
  for (const auto& g : over) out.insert(out.end(), g.begin(), g.end());
  return out;
}

}  // namespace nnet
