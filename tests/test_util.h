// Helpers shared by the tests: where the shared data lives, running the CLI, temp dirs.
#pragma once

#include <string>

namespace nnet::testing {

// ../shared/data/mnist-first10k relative to the source tree (or $NNET_SHARED_DATA); "" if absent.
std::string shared_mnist_dir();

// Skips the current test with a clear message when the shared MNIST data is absent.
#define NNET_REQUIRE_SHARED_DATA(dir)                    \
  std::string dir = ::nnet::testing::shared_mnist_dir(); \
  if (dir.empty())                                       \
  GTEST_SKIP() << "../shared/data/mnist-first10k not found: real-MNIST test skipped"

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
