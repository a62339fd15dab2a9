// Small file helpers shared by every writer: atomic replace and output-path checks.
#pragma once

#include <string>
#include <vector>

#include "nnet/status.h"

namespace nnet {

// Writes `bytes` to `path` atomically: a temp file in the same directory, fsync, rename, fsync
// of the directory. On any failure (disk full, no permission) the previous file is untouched and
// no temp file is left behind.
Status write_file_atomic(const std::string& path, const std::string& bytes);

// Checks, before any work starts, that `path` can be created or replaced: its directory exists and
// is writable, it is not a directory, and it is none of `inputs`. `flag` names it in errors.
Status check_output_path(const std::string& flag, const std::string& path,
                         const std::vector<std::string>& inputs);

}  // namespace nnet
