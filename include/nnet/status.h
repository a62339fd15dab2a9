// Status: the value every recoverable failure travels in (LevelDB style).
#pragma once

#include <string>
#include <utility>

namespace nnet {

// Exit codes follow sysexits(3) where one fits; documented in docs/cli.md.
enum class Code : int {
  kOk = 0,
  kUsage = 2,         // bad flag or flag value
  kDiverged = 3,      // training produced a non-finite cost, gradient or weight
  kDataError = 65,    // EX_DATAERR: input exists but is malformed
  kNoInput = 66,      // EX_NOINPUT: input missing or unreadable
  kUnavailable = 69,  // EX_UNAVAILABLE: a device asked for cannot be used (--device cuda)
  kSoftware = 70,     // EX_SOFTWARE: internal error (a bug)
  kCantCreate = 73,   // EX_CANTCREAT: output cannot be created
  kIoError = 74,      // EX_IOERR: read/write failed midway (disk full, ...)
  kInterrupted = 130  // SIGINT/SIGTERM: stopped cleanly after saving
};

class Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(Code code, std::string message) { return Status(code, std::move(message)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  // One line: what, where, expected vs found.
  const std::string& message() const { return message_; }
  int exit_code() const { return static_cast<int>(code_); }

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// Shorthands for the common constructors.
inline Status UsageError(std::string m) { return Status::Error(Code::kUsage, std::move(m)); }
inline Status DataError(std::string m) { return Status::Error(Code::kDataError, std::move(m)); }
inline Status NoInput(std::string m) { return Status::Error(Code::kNoInput, std::move(m)); }
inline Status IoError(std::string m) { return Status::Error(Code::kIoError, std::move(m)); }

}  // namespace nnet

// Returns early from the enclosing function when `expr` is not ok.
#define NNET_RETURN_IF_ERROR(expr)            \
  do {                                        \
    ::nnet::Status nnet_status_ = (expr);     \
    if (!nnet_status_.ok()) return nnet_status_; \
  } while (0)
