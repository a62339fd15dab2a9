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

std::string shared_mnist_dir() {
  if (const char* env = std::getenv("NNET_SHARED_DATA"); env && *env) {
    return fs::exists(fs::path(env) / "t10k-images-idx3-ubyte.gz") ? std::string(env) : "";
  }
  fs::path p = fs::path(NNET_SOURCE_DIR) / ".." / "shared" / "data" / "mnist-first10k";
  if (fs::exists(p / "t10k-images-idx3-ubyte.gz")) return fs::weakly_canonical(p).string();
  return "";
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

}  // namespace nnet::testing
