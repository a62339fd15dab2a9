// RunOptions in JSON (nnet/run.h's table decides the keys): the options a checkpoint keeps and
// the "options" that histories and model files record.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "nnet/network.h"
#include "nnet/run.h"

namespace nnet {

// An option's value as a checkpoint holds it (a negated bool as its negation: no_shuffle).
nlohmann::json checkpoint_value(const RunOptions& opts, const OptionInfo& o);
// Sets the option from a checkpoint's value; false when `j` is not a value of its type.
bool set_checkpoint_value(RunOptions* opts, const OptionInfo& o, const nlohmann::json& j);

// Every checkpointed option under its checkpoint key.
nlohmann::json checkpoint_options(const RunOptions& opts);

// The "options" of histories and model files: every recorded option, those spelled by the network
// (sizes, activations, cost) as `arch` has them, the data as `data_path` (the data actually read).
nlohmann::json recorded_options(const RunOptions& opts, const Architecture& arch,
                                const std::string& data_path);

}  // namespace nnet
