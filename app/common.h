// Pieces the subcommands share: data flags, error reporting, stderr progress.
#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <string>

#include "nnet/data.h"
#include "nnet/status.h"

namespace nnet::app {

// Prints "nnet: <message>" on stderr and returns the status's exit code.
int fail(const Status& s);

// --data, --validation-size: where the images come from.
struct DataFlags {
  std::string data;
  size_t validation_size = 0;
};
void add_data_flags(CLI::App* cmd, DataFlags* f);

// Loads the data named by the flags (or the default data), with one-line errors.
Status load_cli_data(const DataFlags& f, DataSplits* out, std::string* used_path);

// Picks the split named by --eval/--split ("test", "validation", "training"); null for "none".
Status pick_split(const DataSplits& d, const std::string& which, const std::string& flag,
                  const Dataset** out);

// True when stderr is a terminal (progress bars only then).
bool stderr_is_tty();

}  // namespace nnet::app
