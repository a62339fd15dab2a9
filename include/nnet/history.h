// History: a run's per-epoch figures, options and timings, as JSON (`--history run.json`) or CSV.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nnet/status.h"
#include "nnet/train.h"

namespace nnet {

struct History {
  nlohmann::json options;           // the options the run used (flag name -> value), incl. seed
  std::vector<EpochReport> epochs;  // one per completed epoch
};

// Writes `h` to `path`: CSV when the name ends in .csv, JSON otherwise. Atomic (temp + rename).
Status save_history(const std::string& path, const History& h);

// Reads a JSON history written by save_history; validates every field it uses.
Status load_history(const std::string& path, History* h);
// Parses the bytes of a JSON history (what load_history reads); `name` prefixes errors.
Status parse_history(const std::string& bytes, const std::string& name, History* h);

// The JSON form of one epoch / a whole history (also used inside checkpoints).
nlohmann::json to_json(const EpochReport& r);
Status from_json(const nlohmann::json& j, const std::string& where, EpochReport* r);

}  // namespace nnet
