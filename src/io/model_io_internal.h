// The isolated HDF5 reader's wire format (not public API; exposed for tests and fuzzing).
#pragma once

#include <string>

#include "nnet/model_io.h"
#include "nnet/status.h"

namespace nnet::internal {

// What the child sends back: u64 header length | header JSON ({"sizes", "cost", "nnet"}, as in a
// JSON model) | the flat float32 parameters in Network::params order (native byte order).
std::string encode_model(const Model& m);

// Parses encode_model's bytes as strictly as a file (the child ran on hostile input): header
// through the JSON model's checks, parameter count against sizes, every value finite.
Status decode_model(const std::string& bytes, const std::string& name, Model* out);

}  // namespace nnet::internal
