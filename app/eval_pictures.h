// `nnet eval --mistakes FILE.png --confusion FILE.png`: pictures of an evaluation, kept apart from
// cmd_eval.cc so the evaluation itself stays small.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nnet/dataset.h"
#include "nnet/network.h"

namespace nnet::app {

// Checks the picture paths before any work starts; prints the error and returns its exit code,
// or returns 0.
int check_eval_picture_paths(const std::string& mistakes, const std::string& confusion,
                             const std::vector<std::string>& inputs);

// Writes the gallery of misclassified digits (true→predicted, confidence) and/or the confusion
// heat map, for whichever path is not empty; prints errors, returns an exit code (0 = ok).
int write_eval_pictures(const Network& net, const Dataset& data,
                        const std::vector<uint8_t>& predictions, const std::string& model_name,
                        const std::string& mistakes, const std::string& confusion);

}  // namespace nnet::app
