// One definition of a training run: RunOptions holds every option as it is spelled (strings for
// names, lists as given), and run_options() is the one table that says, per option, its name,
// type, default, check and doc, and where it appears: a `nnet train` flag, a Python keyword, a
// checkpoint's key, the "options" of histories and model files. The CLI registers its flags, the
// Python module maps its keywords, checkpoints compare, files record and the book's recipes set
// options from it; TrainOptions and the Architecture are derived from a RunOptions.
//
// Errors name options ("eta: expected a finite number > 0, found 0.000000"); a front end respells
// the leading name as its own (the CLI: "--eta: ...", see flag_spelling()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "nnet/layers.h"
#include "nnet/network.h"
#include "nnet/status.h"
#include "nnet/train.h"

namespace nnet {

struct RunOptions {
  // The data.
  std::string data;  // a file or folder; "" = the default data
  size_t validation_size = 0;
  long train_size = -1;  // the first N training images; -1 = all
  std::string eval = "test";
  bool expand = false;
  // The network.
  std::vector<int> sizes{784, 30, 10};
  std::string layers;  // a layer stack, replacing sizes when given
  std::vector<std::string> activation{"sigmoid"};
  std::string cost = "quadratic";
  std::string init = "large";
  std::vector<int> input_shape;  // a stack's (channels, height, width); empty = the data's
  bool inverted_dropout = false;
  // Training.
  int epochs = 30;
  int batch = 10;
  double eta = 0.1;
  uint32_t seed = 1;
  double lambda = 0.0;
  double l1 = 0.0;
  double dropout = 0.0;
  double momentum = 0.0;
  std::string schedule = "constant";
  int step_epochs = 10;
  double step_gamma = 0.5;
  int plateau = 10;
  int early_stop = 0;
  std::vector<std::string> monitor;  // all, training-cost, ...: added to the four below
  bool monitor_training_cost = false;
  bool monitor_training_accuracy = false;
  bool monitor_evaluation_cost = false;
  bool monitor_evaluation_accuracy = true;
  bool record_gradients = false;
  bool shuffle = true;
  std::string l2_style = "network2";
  int grad_chunk = 0;
  std::string device = "cpu";
  bool hints = true;
  int threads = 0;
  int conv_threads = TrainOptions().conv_threads;
};

// An option's member of RunOptions (its type), and a value of any of those types.
using OptionField =
    std::variant<int RunOptions::*, uint32_t RunOptions::*, long RunOptions::*,
                 size_t RunOptions::*, double RunOptions::*, bool RunOptions::*,
                 std::string RunOptions::*, std::vector<int> RunOptions::*,
                 std::vector<std::string> RunOptions::*>;
using OptionValue = std::variant<int, uint32_t, long, size_t, double, bool, std::string,
                                 std::vector<int>, std::vector<std::string>>;
// The TrainOptions member an option is copied to unchanged, if any.
using EngineField = std::variant<std::monostate, int TrainOptions::*, uint32_t TrainOptions::*,
                                 double TrainOptions::*, bool TrainOptions::*>;

// Where an option appears (bits of OptionInfo::uses).
enum OptionUse : unsigned {
  kFlag = 1u << 0,          // a `nnet train` flag (and so an override of `nnet book`)
  kKeyword = 1u << 1,       // a keyword of Python's training calls (Network.SGD, fit)
  kNetKeyword = 1u << 2,    // a keyword of Python's Network(...)
  kCheckpointed = 1u << 3,  // in a checkpoint: --resume takes it, or refuses a different value
  kRecorded = 1u << 4,      // in the "options" of histories and model files
};

// How a recorded option is written.
enum class Recorded {
  kValue,          // its value
  kUnlessDefault,  // its value, left out while it has its default
  kBuilt,          // the built network's spelling: sizes, activations (per weight layer), cost
  kDataPath,       // the data actually read (the default data's path when none was given)
};

// A numeric option's accepted range: lo < v (lo_open) or lo <= v, v < hi (hi_open) or v <= hi;
// NaN never passes, nor infinity with an infinite bound. `expected` says it in words.
struct OptionRange {
  double lo, hi;
  bool lo_open, hi_open;
  const char* expected;  // "a finite number > 0"
};

struct OptionInfo {
  const char* name;  // the option: errors, checkpoints, histories, Python (unless `keyword`)
  OptionField field;
  unsigned uses;  // OptionUse bits
  const char* doc;
  const OptionRange* range = nullptr;  // numbers: checked by check_options() and validate()
  std::vector<std::string> choices;    // strings (each item of a list): the accepted values
  // Further rules that need the other options (e.g. init network3 only on a stack).
  Status (*check)(const RunOptions&) = nullptr;
  EngineField engine;                 // copied to this TrainOptions member by train_options()
  const char* keyword = nullptr;      // Python's spelling when not `name` (lambda: lmbda)
  const char* negation = nullptr;     // a bool spelled as its opposite on the CLI and in
                                      // checkpoints (shuffle: --no-shuffle, "no_shuffle")
  const char* negation_doc = nullptr;  // what the negation does
  const char* flag_values = nullptr;  // a bool given a value on the CLI: "on|off" (hints)
  const char* record_key = nullptr;   // the recorded key when not `name` (activations)
  Recorded recorded = Recorded::kValue;
  // Checkpoints before this option existed lack its key: resuming one takes the default.
  bool newer = false;
  // A resumed run may change it (epochs extends the run; the data is compared by content).
  bool may_change = false;
};

// Every option of a training run, in the order the CLI lists them.
const std::vector<OptionInfo>& run_options();

// The entry called `name` (or with Python keyword `name` when `keyword`), or null.
const OptionInfo* find_option(const std::string& name, bool keyword = false);
// The entry of a RunOptions member, or null.
const OptionInfo* find_option(const OptionField& field);

// The CLI's spelling: "--" + the name with '-' for '_', or "--no-..." for a negated bool.
std::string flag_spelling(const OptionInfo& o);
// `s` with the option its message starts with ("eta: ...", "device cuda: ...") spelled as
// `spell` spells it for a front end; unchanged when it names no option or `spell` returns "".
Status respell_option(const Status& s, std::string (*spell)(const OptionInfo&));
// The key in checkpoints: the name, or the negation's.
std::string checkpoint_key(const OptionInfo& o);

// An option's value in `opts`, and setting it (false when `v` has another type).
OptionValue get_option(const RunOptions& opts, const OptionInfo& o);
bool set_option(RunOptions* opts, const OptionInfo& o, const OptionValue& v);
// A value as typed on the command line: 3.0, 784,30,10, relu,tanh (lists joined by commas).
std::string option_text(const OptionValue& v);
// A list option's items, with items that hold commas ("relu,tanh", as typed) split at them.
std::vector<std::string> list_items(const std::vector<std::string>& in);

// Runs every option's checks (range, choices, rules), in table order: the first failure.
Status check_options(const RunOptions& opts);

// The engine's options: the table's engine fields copied, schedule, l2_style, device parsed,
// `monitor` added to the four monitor_* switches, hints as watch_health. Checks first.
Status train_options(const RunOptions& opts, TrainOptions* out);

// The network `opts` describes (sizes, or layers with activation and inverted_dropout; cost) on
// samples of shape `input` with `num_classes` classes, checked by validate(): the one set of
// limits every network has. For sizes, input.size() is what the first size must be; for a stack,
// `input` is its input shape unless opts.input_shape gives one of the same size.
Status make_architecture(const RunOptions& opts, const Shape& input, int num_classes,
                         Architecture* out);

// The names of `arch`'s hidden activations: a dense net's layers but the output, a stack's conv/fc
// layers (none for a net without such layers).
std::vector<std::string> hidden_activations(const Architecture& arch);

// The options that spell `arch` (as a loaded model file has it): sizes, or layers with the
// hidden activations ("sigmoid" when there are none), and cost. The input shape is left to the
// data.
void spell_architecture(const Architecture& arch, RunOptions* opts);

}  // namespace nnet
