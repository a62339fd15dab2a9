#include "io/isolate.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

namespace nnet {
namespace {

// Address space the process maps now (VmSize), or 0 when /proc is unavailable.
size_t mapped_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long pages = 0;
  const int n = std::fscanf(f, "%llu", &pages);
  std::fclose(f);
  return n == 1 ? static_cast<size_t>(pages) * static_cast<size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

void lower_limit(int resource, rlim_t value) {
  rlimit lim{};
  if (getrlimit(resource, &lim) != 0) return;
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < value) value = lim.rlim_max;
  lim.rlim_cur = value;
  lim.rlim_max = value;
  setrlimit(resource, &lim);
}

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// The child: limits first, then the work; the frame is one status byte, then the result or the
// error message. _exit skips atexit handlers (libhdf5's would close the parent's handles).
[[noreturn]] void child_main(int fd, const std::string& what, const IsolationLimits& limits,
                             const std::function<Status(std::string*)>& work) {
  const size_t base = mapped_bytes();
  if (base > 0) lower_limit(RLIMIT_AS, static_cast<rlim_t>(base + limits.extra_memory_bytes));
  lower_limit(RLIMIT_CPU, static_cast<rlim_t>(std::ceil(limits.seconds)) + 1);
  lower_limit(RLIMIT_CORE, 0);   // a hostile input's crash leaves no core file
  lower_limit(RLIMIT_FSIZE, 0);  // the work only reads
  std::string out;
  Status st;
  try {
    st = work(&out);
  } catch (const std::bad_alloc&) {
    st = DataError(what + ": ran out of its " + std::to_string(limits.extra_memory_bytes >> 20) +
                   " MiB memory budget (a corrupt or hostile input)");
  } catch (const std::exception& e) {
    st = Status::Error(Code::kSoftware, what + ": internal error: " + e.what());
  }
  const char code = static_cast<char>(st.exit_code());
  const std::string& body = st.ok() ? out : st.message();
  const bool sent = write_all(fd, &code, 1) && write_all(fd, body.data(), body.size());
  _exit(sent ? 0 : 1);
}

std::string signal_text(int sig) {
  const char* s = strsignal(sig);
  return std::string("signal ") + std::to_string(sig) + (s ? std::string(", ") + s : "");
}

}  // namespace

Status run_isolated(const std::string& what, const IsolationLimits& limits,
                    const std::function<Status(std::string*)>& work, std::string* result) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return IoError(what + ": cannot start: pipe: " + std::strerror(errno));
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    close(fds[0]);
    close(fds[1]);
    return IoError(what + ": cannot start: fork: " + std::strerror(err));
  }
  if (pid == 0) {
    close(fds[0]);
    child_main(fds[1], what, limits, work);
  }
  close(fds[1]);

  using Clock = std::chrono::steady_clock;
  const auto deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<long long>(limits.seconds * 1000));
  auto ms_left = [&] {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left > 0 ? static_cast<int>(std::min<long long>(left, 1 << 30)) : 0;
  };
  std::string frame;
  bool timed_out = false, too_big = false;
  char buf[1 << 16];
  for (;;) {
    pollfd p{fds[0], POLLIN, 0};
    const int left = ms_left();
    const int r = left > 0 ? poll(&p, 1, left) : 0;
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      timed_out = true;
      break;
    }
    const ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF (or a read error, judged by the exit status below)
    if (frame.size() + static_cast<size_t>(n) > limits.max_result_bytes + 1) {
      too_big = true;
      break;
    }
    frame.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  // The child exits right after its last write; give it until the deadline, then stop it.
  // A pidfd lets poll wait for the exit itself instead of sleeping in steps.
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  int wstatus = 0;
  for (;;) {
    if (timed_out || too_big) kill(pid, SIGKILL);
    const pid_t w = waitpid(pid, &wstatus, timed_out || too_big ? 0 : WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) {  // e.g. SIGCHLD ignored: no exit status to judge by
      if (pidfd >= 0) close(pidfd);
      return Status::Error(Code::kSoftware, what + ": lost the child process");
    }
    if (w == 0) {
      const int left = ms_left();
      pollfd p{pidfd, POLLIN, 0};
      if (left == 0)
        timed_out = true;
      else if (pidfd < 0 || poll(&p, 1, left) < 0)
        usleep(200);
    }
  }
  if (pidfd >= 0) close(pidfd);
  char secs[32];
  std::snprintf(secs, sizeof(secs), "%g", limits.seconds);
  if (timed_out)
    return DataError(what + ": stopped after " + secs + " s (a corrupt or hostile input)");
  if (too_big)
    return DataError(what + ": result exceeds " + std::to_string(limits.max_result_bytes >> 20) +
                     " MiB (refused)");
  if (WIFSIGNALED(wstatus)) {
    const int sig = WTERMSIG(wstatus);
    if (sig == SIGXCPU)
      return DataError(what + ": stopped after " + secs + " s of CPU (a corrupt or hostile input)");
    return DataError(what + ": crashed (" + signal_text(sig) +
                     ") on this input (a corrupt or hostile input)");
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0 || frame.empty())
    return DataError(what + ": exited with status " +
                     std::to_string(WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1) +
                     " without a result");
  // The child ran on hostile input, so even its frame is checked: a known code, one line.
  const Code code = static_cast<Code>(static_cast<unsigned char>(frame[0]));
  if (code != Code::kOk) {
    const std::string message = frame.substr(1);
    const bool known = code == Code::kDataError || code == Code::kNoInput ||
                       code == Code::kIoError || code == Code::kSoftware || code == Code::kUsage;
    if (!known || message.empty() || message.size() > 4096 ||
        message.find_first_of("\r\n") != std::string::npos)
      return DataError(what + ": sent a malformed error (code " +
                       std::to_string(static_cast<int>(code)) + ")");
    return Status::Error(code, message);
  }
  result->assign(frame, 1, std::string::npos);
  return Status::Ok();
}

}  // namespace nnet
