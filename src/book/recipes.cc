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

// A chapter-6 recipe's flags: `args` plus what every network3 run shares: its init and cost (the
// --layers defaults, spelled out), its L2 scaling, its fixed training order, the test images.
std::vector<std::string> ch6(std::vector<std::string> args) {
  for (const char* a : {"--init", "network3", "--cost", "log-likelihood", "--l2-style", "network3",
                        "--no-shuffle", "--eval", "test"})
    args.push_back(a);
  return args;
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
      // Chapter 6 (network3.py): its layers, init (--init network3), log-likelihood cost, L2 as
      // network3 scales it, batch 10 and no reshuffling, as the book ran them.
      {"ch6-fc100",
       "network3.py FullyConnected(784,100) sigmoid + Softmax(100,10), 60 epochs, batch 10, "
       "eta 0.1",
       "97.80%",
       ch6({"--layers", "fc:100,softmax:10", "--activation", "sigmoid", "--epochs", "60", "--batch",
            "10", "--eta", "0.1"})},
      {"ch6-conv1",
       "network3.py ConvPool(20 5x5, pool 2) + FC100 + softmax, sigmoid, 60 epochs, eta 0.1",
       "98.78%",
       ch6({"--layers", "conv:20:5,maxpool:2,fc:100,softmax:10", "--activation", "sigmoid",
            "--epochs", "60", "--batch", "10", "--eta", "0.1"})},
      {"ch6-conv2",
       "network3.py two ConvPool (20 and 40 5x5, pool 2) + FC100 + softmax, sigmoid, 60 epochs, "
       "eta 0.1",
       "99.06%",
       ch6({"--layers", "conv:20:5,maxpool:2,conv:40:5,maxpool:2,fc:100,softmax:10", "--activation",
            "sigmoid", "--epochs", "60", "--batch", "10", "--eta", "0.1"})},
      {"ch6-relu", "ch6-conv2 with ReLU, eta 0.03, lambda 0.1", "99.23%",
       ch6({"--layers", "conv:20:5,maxpool:2,conv:40:5,maxpool:2,fc:100,softmax:10", "--activation",
            "relu", "--epochs", "60", "--batch", "10", "--eta", "0.03", "--lambda", "0.1"})},
      {"ch6-expanded",
       "ch6-relu on expand_mnist.py's data (each image plus four 1-pixel shifts: 5x)", "99.37%",
       ch6({"--layers", "conv:20:5,maxpool:2,conv:40:5,maxpool:2,fc:100,softmax:10", "--activation",
            "relu", "--epochs", "60", "--batch", "10", "--eta", "0.03", "--lambda", "0.1",
            "--expand"})},
      {"ch6-extra-fc",
       "ch6-expanded with a second FC100 layer (the book: 99.46% with FC300, 99.48% with FC1000)",
       "99.43%",
       ch6({"--layers", "conv:20:5,maxpool:2,conv:40:5,maxpool:2,fc:100,fc:100,softmax:10",
            "--activation", "relu", "--epochs", "60", "--batch", "10", "--eta", "0.03", "--lambda",
            "0.1", "--expand"})},
      {"ch6-dropout",
       "expanded data, two ConvPool + FC1000 + FC1000 + softmax, dropout 0.5 on the inputs of "
       "the FC and softmax layers, ReLU, 40 epochs, eta 0.03, lambda 0.1",
       "99.60%",
       ch6({"--layers",
            "conv:20:5,maxpool:2,conv:40:5,maxpool:2,dropout:0.5,fc:1000,dropout:0.5,fc:1000,"
            "dropout:0.5,softmax:10",
            "--activation", "relu", "--epochs", "40", "--batch", "10", "--eta", "0.03", "--lambda",
            "0.1", "--expand"})},
      {"ch6-ensemble",
       "five ch6-dropout nets (seeds 1-5), saved as ch6-ensemble-K.json, then a plurality vote "
       "(conv.py)",
       "99.67%",
       ch6({"--layers",
            "conv:20:5,maxpool:2,conv:40:5,maxpool:2,dropout:0.5,fc:1000,dropout:0.5,fc:1000,"
            "dropout:0.5,softmax:10",
            "--activation", "relu", "--epochs", "40", "--batch", "10", "--eta", "0.03", "--lambda",
            "0.1", "--expand"}),
       5},
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
