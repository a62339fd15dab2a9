#include "nnet/fileio.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace fs = std::filesystem;

namespace nnet {

namespace {

std::string errno_text() { return std::strerror(errno); }

std::string dir_of(const std::string& path) {
  fs::path p(path);
  return p.has_parent_path() ? p.parent_path().string() : std::string(".");
}

}  // namespace

Status write_file_atomic(const std::string& path, const std::string& bytes) {
  const std::string dir = dir_of(path);
  std::string tmpl =
      (fs::path(dir) / ("." + fs::path(path).filename().string() + ".tmp-XXXXXX")).string();
  int fd = mkstemp(tmpl.data());
  if (fd < 0)
    return Status::Error(Code::kCantCreate,
                         "cannot create a temporary file in " + dir + ": " + errno_text());
  auto fail = [&](const std::string& what) {
    const std::string why = errno_text();
    ::close(fd);
    ::unlink(tmpl.c_str());
    return IoError("cannot write " + path + ": " + what + ": " + why);
  };
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      return fail("write failed after " + std::to_string(done) + " of " +
                  std::to_string(bytes.size()) + " bytes");
    }
    done += static_cast<size_t>(w);
  }
  if (::fchmod(fd, 0644) != 0) return fail("fchmod");
  if (::fsync(fd) != 0) return fail("fsync");
  if (::close(fd) != 0) {
    const std::string why = errno_text();
    ::unlink(tmpl.c_str());
    return IoError("cannot write " + path + ": close: " + why);
  }
  if (::rename(tmpl.c_str(), path.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(tmpl.c_str());
    return IoError("cannot replace " + path + ": " + why);
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);  // makes the rename durable; failure here cannot undo it, so it is not an error
    ::close(dfd);
  }
  return Status::Ok();
}

Status check_output_path(const std::string& flag, const std::string& path,
                         const std::vector<std::string>& inputs) {
  if (path.empty()) return UsageError(flag + ": expected a file name, found an empty string");
  std::error_code ec;
  if (fs::is_directory(path, ec))
    return Status::Error(Code::kCantCreate,
                         flag + " " + path + ": expected a file name, found a directory");
  const std::string dir = dir_of(path);
  if (!fs::is_directory(dir, ec))
    return Status::Error(Code::kCantCreate,
                         flag + " " + path + ": directory " + dir + " does not exist");
  if (::access(dir.c_str(), W_OK) != 0)
    return Status::Error(Code::kCantCreate,
                         flag + " " + path + ": directory " + dir + " is not writable");
  if (fs::exists(path, ec) && ::access(path.c_str(), W_OK) != 0)
    return Status::Error(Code::kCantCreate, flag + " " + path + ": file is not writable");
  for (const std::string& in : inputs) {
    if (in.empty() || !fs::exists(in, ec) || !fs::exists(path, ec)) continue;
    if (fs::equivalent(in, path, ec))
      return Status::Error(Code::kCantCreate,
                           flag + " " + path + ": refusing to overwrite the input " + in);
  }
  return Status::Ok();
}

}  // namespace nnet
