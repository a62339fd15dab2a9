#include "nnet/recipes.h"

#include <algorithm>
#include <cassert>

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

using R = RunOptions;
using Settings = std::vector<RecipeSetting>;

// Chapters 1, 3 and 5: network.py / network2.py on `sizes`, batch 10.
Settings dense(std::vector<int> sizes, int epochs, double eta, const char* cost, const char* init,
               const char* eval, const Settings& more = {}) {
  Settings s = {setting(&R::sizes, std::move(sizes)), setting(&R::epochs, epochs),
                setting(&R::batch, 10),               setting(&R::eta, eta),
                setting(&R::cost, cost),              setting(&R::init, init),
                setting(&R::eval, eval)};
  s.insert(s.end(), more.begin(), more.end());
  return s;
}

// ch3-overfitting and its regularized twin: training[:1000], 400 epochs, every monitor.
Settings overfitting(const Settings& more) {
  Settings s = dense({784, 30, 10}, 400, 0.5, "cross-entropy", "large", "test",
                     {setting(&R::train_size, 1000), setting(&R::monitor, {"all"})});
  s.insert(s.end(), more.begin(), more.end());
  s.push_back(setting(&R::seed, 12345678));
  return s;
}

// Chapter 6 (network3.py): `layers` with `activation`, then what every network3 run shares: its
// init and cost (the stack defaults, spelled out), its L2 scaling, its fixed training order, the
// test images.
Settings ch6(const char* layers, const char* activation, int epochs, double eta,
             const Settings& more) {
  Settings s = {setting(&R::layers, layers), setting(&R::activation, {activation}),
                setting(&R::epochs, epochs), setting(&R::batch, 10), setting(&R::eta, eta)};
  s.insert(s.end(), more.begin(), more.end());
  for (RecipeSetting x :
       {setting(&R::init, "network3"), setting(&R::cost, "log-likelihood"),
        setting(&R::l2_style, "network3"), setting(&R::shuffle, false), setting(&R::eval, "test")})
    s.push_back(x);
  return s;
}

constexpr const char* kTwoConv = "conv:20:5,maxpool:2,conv:40:5,maxpool:2,fc:100,softmax:10";
constexpr const char* kDropoutStack =
    "conv:20:5,maxpool:2,conv:40:5,maxpool:2,dropout:0.5,fc:1000,dropout:0.5,fc:1000,"
    "dropout:0.5,softmax:10";

}  // namespace

const std::vector<Recipe>& book_recipes() {
  const RecipeSetting gradients = setting(&R::record_gradients, true);
  const RecipeSetting lambda5 = setting(&R::lambda, 5.0), expand = setting(&R::expand, true);
  static const std::vector<Recipe> kRecipes = {
      {"ch1-30-hidden",
       "network.py [784,30,10], quadratic, large init, 30 epochs, batch 10, eta 3.0",
       "95.42% peak (epoch 28, best of three runs)",
       dense({784, 30, 10}, 30, 3.0, "quadratic", "large", "test")},
      {"ch1-100-hidden", "network.py [784,100,10], otherwise as ch1-30-hidden", "96.59%",
       dense({784, 100, 10}, 30, 3.0, "quadratic", "large", "test")},
      {"ch3-cross-entropy",
       "network2.py [784,30,10] cross-entropy, large init, 30 epochs, batch 10, eta 0.5",
       "95.49%", dense({784, 30, 10}, 30, 0.5, "cross-entropy", "large", "test")},
      {"ch3-overfitting",
       "network2.py [784,30,10] cross-entropy, large init, training[:1000], 400 epochs, batch 10, "
       "eta 0.5, all monitors (test data)",
       "82.27% peak (fig/overfitting.json)",
       overfitting({})},
      {"ch3-regularized", "ch3-overfitting with lambda 0.1", "87.1% peak",
       overfitting({setting(&R::lambda, 0.1)})},
      {"ch3-full",
       "network2.py [784,30,10] cross-entropy, default init, all training data, 30 epochs, "
       "batch 10, eta 0.5, lambda 5.0",
       "96.49%", dense({784, 30, 10}, 30, 0.5, "cross-entropy", "default", "test", {lambda5})},
      {"ch3-100-hidden",
       "network2.py [784,100,10] cross-entropy, default init, 30 epochs, batch 10, eta 0.5, "
       "lambda 5.0 (validation data)",
       "97.92% (validation)",
       dense({784, 100, 10}, 30, 0.5, "cross-entropy", "default", "validation", {lambda5})},
      {"ch3-100-hidden-60", "ch3-100-hidden with 60 epochs and eta 0.1", "98.04% (validation)",
       dense({784, 100, 10}, 60, 0.1, "cross-entropy", "default", "validation", {lambda5})},
      {"ch5-1-hidden",
       "network2.py [784,30,10] cross-entropy, default init, 30 epochs, batch 10, eta 0.1, "
       "lambda 5.0 (validation data)",
       "96.48% (validation)",
       dense({784, 30, 10}, 30, 0.1, "cross-entropy", "default", "validation",
             {lambda5, gradients})},
      {"ch5-2-hidden", "ch5-1-hidden with [784,30,30,10]", "96.90% (validation)",
       dense({784, 30, 30, 10}, 30, 0.1, "cross-entropy", "default", "validation",
             {lambda5, gradients})},
      {"ch5-deep", "ch5-1-hidden with [784,30,30,30,10], gradient norms recorded",
       "96.57% (validation)",
       dense({784, 30, 30, 30, 10}, 30, 0.1, "cross-entropy", "default", "validation",
             {lambda5, gradients})},
      {"ch5-4-hidden", "ch5-1-hidden with [784,30,30,30,30,10]", "96.53% (validation)",
       dense({784, 30, 30, 30, 30, 10}, 30, 0.1, "cross-entropy", "default", "validation",
             {lambda5, gradients})},
      // Chapter 6 (network3.py): its layers, init (network3), log-likelihood cost, L2 as
      // network3 scales it, batch 10 and no reshuffling, as the book ran them.
      {"ch6-fc100",
       "network3.py FullyConnected(784,100) sigmoid + Softmax(100,10), 60 epochs, batch 10, "
       "eta 0.1",
       "97.80%", ch6("fc:100,softmax:10", "sigmoid", 60, 0.1, {})},
      {"ch6-conv1",
       "network3.py ConvPool(20 5x5, pool 2) + FC100 + softmax, sigmoid, 60 epochs, eta 0.1",
       "98.78%", ch6("conv:20:5,maxpool:2,fc:100,softmax:10", "sigmoid", 60, 0.1, {})},
      {"ch6-conv2",
       "network3.py two ConvPool (20 and 40 5x5, pool 2) + FC100 + softmax, sigmoid, 60 epochs, "
       "eta 0.1",
       "99.06%", ch6(kTwoConv, "sigmoid", 60, 0.1, {})},
      {"ch6-relu", "ch6-conv2 with ReLU, eta 0.03, lambda 0.1", "99.23%",
       ch6(kTwoConv, "relu", 60, 0.03, {setting(&R::lambda, 0.1)})},
      {"ch6-expanded",
       "ch6-relu on expand_mnist.py's data (each image plus four 1-pixel shifts: 5x)", "99.37%",
       ch6(kTwoConv, "relu", 60, 0.03, {setting(&R::lambda, 0.1), expand})},
      {"ch6-extra-fc",
       "ch6-expanded with a second FC100 layer (the book: 99.46% with FC300, 99.48% with FC1000)",
       "99.43%",
       ch6("conv:20:5,maxpool:2,conv:40:5,maxpool:2,fc:100,fc:100,softmax:10", "relu", 60, 0.03,
           {setting(&R::lambda, 0.1), expand})},
      {"ch6-dropout",
       "expanded data, two ConvPool + FC1000 + FC1000 + softmax, dropout 0.5 on the inputs of "
       "the FC and softmax layers, ReLU, 40 epochs, eta 0.03, lambda 0.1",
       "99.60%", ch6(kDropoutStack, "relu", 40, 0.03, {setting(&R::lambda, 0.1), expand})},
      {"ch6-ensemble",
       "five ch6-dropout nets (seeds 1-5), saved as ch6-ensemble-K.json, then a plurality vote "
       "(conv.py)",
       "99.67%", ch6(kDropoutStack, "relu", 40, 0.03, {setting(&R::lambda, 0.1), expand}), 5},
  };
  return kRecipes;
}

const Recipe* find_recipe(const std::string& name) {
  for (const Recipe& r : book_recipes())
    if (r.name == name) return &r;
  return nullptr;
}

const OptionInfo& setting_option(const RecipeSetting& s) {
  const OptionInfo* o = find_option(s.field);
  assert(o != nullptr);  // every member of RunOptions has its entry (tested)
  return *o;
}

RunOptions recipe_options(const Recipe& r) {
  RunOptions o;
  for (const RecipeSetting& s : r.settings) set_option(&o, setting_option(s), s.value);
  return o;
}

bool recipe_sets(const Recipe& r, const std::string& option) {
  return std::any_of(r.settings.begin(), r.settings.end(),
                     [&](const RecipeSetting& s) { return setting_option(s).name == option; });
}

std::vector<std::string> merge_flags(const std::vector<std::string>& flags,
                                     const std::vector<std::string>& overrides) {
  const auto base = groups(flags), over = groups(overrides);
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
