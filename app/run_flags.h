// `nnet train`'s flags for the run's options: one per flag entry of nnet/run.h's table, and the
// CLI's side of that table (which flags were given, flag names in messages, --resume's check).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "nnet/run.h"
#include "nnet/status.h"
#include "nnet/value.h"

namespace nnet::app {

struct RunFlags {
  RunOptions run;
  std::map<std::string, std::string> valued;  // bools given a value (--hints on|off), as typed
  std::set<std::string> preset;               // options a recipe set (nnet book): as if typed
};

// Whether an option was given: its flag typed, or a recipe's setting.
using Given = std::function<bool(const char* option)>;
Given given_in(const CLI::App& cmd, const RunFlags& f);

// Registers a flag per table entry with kFlag, bound to f->run (whose values are the defaults
// shown by --help).
void add_run_flags(CLI::App* cmd, RunFlags* f);

// After parsing: the valued bools' text into f->run (a usage error for another word).
Status read_valued_flags(RunFlags* f);

// An option's value as `nnet train` flags: "--eta 3.0", "--record-gradients", "--no-shuffle",
// "--hints off"; none for a bool flag that the value leaves off.
std::vector<std::string> value_flags(const OptionInfo& o, const OptionValue& v);

// A library message names the option it is about ("eta: expected ..."); the CLI says the flag
// ("--eta: expected ...").
Status with_flags(const Status& s);

// --resume: options not given take the checkpoint's value; a given one must match it unless
// the table lets a resumed run change it (--epochs, --data). `where` starts every message.
Status apply_saved_options(const std::string& where, const Value& saved, const Given& given,
                           RunOptions* run);

}  // namespace nnet::app
