// One epoch's report in JSON, as histories and checkpoints hold it (docs/history.md).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "nnet/status.h"
#include "nnet/train.h"

namespace nnet {

nlohmann::json epoch_to_json(const EpochReport& r);
// Validates every field it reads; `where` prefixes errors.
Status epoch_from_json(const nlohmann::json& j, const std::string& where, EpochReport* r);

}  // namespace nnet
