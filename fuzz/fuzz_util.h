// Shared checks for the fuzz targets: a property violation prints what broke, then traps (libFuzzer
// saves the input as a crash artifact).
#pragma once
#include <cstdio>
#include <string>

#include "nnet/status.h"

// Errors are one line (house rule): anything else is a finding.
inline void check_one_line(const nnet::Status& st) {
  if (!st.ok() && st.message().find('\n') != std::string::npos) {
    std::fprintf(stderr, "fuzz: multi-line error: %s\n", st.message().c_str());
    __builtin_trap();
  }
}

// A broken property of accepted input.
[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "fuzz: %s\n", what);
  __builtin_trap();
}
