// `nnet train --reference`: the book's Python code step for step in float64 (see reference.h).
#pragma once

#include <cstdint>
#include <string>

#include "nnet/dataset.h"
#include "nnet/network.h"
#include "nnet/train.h"
#include "nnet/value.h"

namespace nnet::app {

struct ReferenceRun {
  Architecture arch;
  const Dataset* training = nullptr;
  const Dataset* evaluation = nullptr;  // may be null
  TrainOptions opts;                    // epochs, batch, eta, lambda, monitors
  uint32_t numpy_seed = 1;
  uint64_t python_seed = 1;
  bool python2_shuffle = false;
  std::string init;  // "" when --init was not given
  bool quiet = false;
  std::string history, save;  // output files, already checked; "" for none
  Value options;              // recorded in history/model files
};

// Runs the reference engine, printing the Python code's lines; returns the exit code.
int run_reference(const ReferenceRun& run);

}  // namespace nnet::app
