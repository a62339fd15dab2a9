// `nnet train --init-from M`: the saved model decides the architecture flags.
#pragma once

#include <string>
#include <vector>

#include "nnet/model_io.h"
#include "nnet/status.h"

namespace nnet::app {

// Loads `path` into `model` and makes the train flags agree with it: sizes and hidden activations
// come from the file (a different explicit --sizes / --activation is a usage error); the cost
// comes from the file unless --cost was given.
Status prepare_init_from(const std::string& path, bool sizes_given, bool activation_given,
                         bool cost_given, std::vector<int>* sizes,
                         std::vector<std::string>* activations, std::string* cost, Model* model);

}  // namespace nnet::app
