// Value <-> nlohmann::json, for io's readers and writers (the public headers know only Value).
#pragma once

#include <nlohmann/json.hpp>

#include "nnet/value.h"

namespace nnet {

// `v` as nlohmann's json, number kinds kept (so the text is the same as before Value existed).
nlohmann::json json_of(const Value& v);

// `j` as a Value; false (and *out untouched) when it nests deeper than kMaxValueDepth.
bool value_of(const nlohmann::json& j, Value* out);

}  // namespace nnet
