// Runs a piece of work in a forked child process under memory and time limits, so that a
// third-party parser (libhdf5) fed a hostile file can only fail, never exhaust the machine or
// crash the caller. Internal to the library.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "nnet/status.h"

namespace nnet {

struct IsolationLimits {
  size_t extra_memory_bytes = size_t{256} << 20;  // address space the child may add to what it
                                                  // inherits
  double seconds = 5;                             // wall-clock (and CPU) time for the child
  size_t max_result_bytes = size_t{64} << 20;     // largest result the parent accepts
};

// Runs `work` in a child process with `limits` and returns what it put in its string argument.
// A Status the work returns comes back unchanged; a child that crashes, runs out of memory or
// time, or sends more than max_result_bytes yields kDataError "<what>: ..." naming the cause.
Status run_isolated(const std::string& what, const IsolationLimits& limits,
                    const std::function<Status(std::string*)>& work, std::string* result);

}  // namespace nnet
