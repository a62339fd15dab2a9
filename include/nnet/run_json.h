// RunOptions as files record them (nnet/run.h's table decides the keys): the options a checkpoint
// keeps and the "options" that histories and model files record.
#pragma once

#include <string>

#include "nnet/network.h"
#include "nnet/run.h"
#include "nnet/value.h"

namespace nnet {

// An option's value as a checkpoint holds it (a negated bool as its negation: no_shuffle).
Value checkpoint_value(const RunOptions& opts, const OptionInfo& o);
// Sets the option from a checkpoint's value; false when `v` is not a value of its type and range.
bool set_checkpoint_value(RunOptions* opts, const OptionInfo& o, const Value& v);

// Every checkpointed option under its checkpoint key.
Value checkpoint_options(const RunOptions& opts);

// The "options" of histories and model files: every recorded option, those spelled by the network
// (sizes, activations, cost) as `arch` has them, the data as `data_path` (the data actually read).
Value recorded_options(const RunOptions& opts, const Architecture& arch,
                       const std::string& data_path);

}  // namespace nnet
