// History: a run's per-epoch figures, options and timings, as JSON (`--history run.json`) or CSV.
#pragma once

#include <string>
#include <vector>

#include "nnet/status.h"
#include "nnet/train.h"
#include "nnet/value.h"

namespace nnet {

struct History {
  Value options;                    // the options the run used (recorded_options), incl. seed
  std::vector<EpochReport> epochs;  // one per completed epoch
};

// Writes `h` to `path`: CSV when the name ends in .csv, JSON otherwise. Atomic (temp + rename).
Status save_history(const std::string& path, const History& h);

// Reads a JSON history written by save_history; validates every field it uses.
Status load_history(const std::string& path, History* h);
// Parses the bytes of a JSON history (what load_history reads); `name` prefixes errors.
Status parse_history(const std::string& bytes, const std::string& name, History* h);

// One epoch as a history file holds it (also inside checkpoints): the keys of docs/history.md.
Value epoch_value(const EpochReport& r);

}  // namespace nnet
