// `nnet train --init-from M`: the saved model decides the architecture flags.
#pragma once

#include <string>

#include "nnet/model_io.h"
#include "nnet/run.h"
#include "nnet/status.h"
#include "run_flags.h"

namespace nnet::app {

// Loads `path` into `model` and makes the run's options agree with it: sizes (dense) or layers
// (a stack) and hidden (conv/fc) activations come from the file (a different explicit --sizes /
// --layers / --activation, or --sizes for a stack and --layers for a dense net, is a usage
// error); the cost comes from the file unless --cost was given.
Status prepare_init_from(const std::string& path, const Given& given, RunOptions* run,
                         Model* model);

}  // namespace nnet::app
