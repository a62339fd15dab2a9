// `nnet train --init-from M`: the saved model decides the architecture flags.
#pragma once

#include <string>
#include <vector>

#include "nnet/model_io.h"
#include "nnet/status.h"

namespace nnet::app {

// Loads `path` into `model` and makes the train flags agree with it: sizes (dense) or layers
// (a stack) and hidden (conv/fc) activations come from the file (a different explicit --sizes /
// --layers / --activation, or --sizes for a stack and --layers for a dense net, is a usage
// error); the cost comes from the file unless --cost was given.
Status prepare_init_from(const std::string& path, bool sizes_given, bool activation_given,
                         bool cost_given, bool layers_given, std::vector<int>* sizes,
                         std::vector<std::string>* activations, std::string* cost,
                         std::string* layers, Model* model);

}  // namespace nnet::app
