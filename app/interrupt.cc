#include "interrupt.h"

#include <unistd.h>

#include <csignal>

namespace nnet::app {

namespace {

// The handler only touches this flag (and, on a second signal, write + _exit, both
// async-signal-safe): everything else happens in the training loop that polls it.
volatile std::sig_atomic_t g_signals = 0;

extern "C" void on_signal(int) {
  if (g_signals != 0) {
    // The user insists: leave now. An atomic save in flight leaves the previous checkpoint
    // intact (only a stray temp file, which the next run removes).
    static const char msg[] = "nnet: second signal: exiting at once\n";
    ssize_t ignored = ::write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
    ::_exit(130);
  }
  g_signals = 1;
}

}  // namespace

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGINT);  // one handler at a time, so the counting stays simple
  sigaddset(&sa.sa_mask, SIGTERM);
  sa.sa_flags = SA_RESTART;  // file writes and fsyncs in progress are not cut short
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool interrupt_requested() { return g_signals != 0; }

}  // namespace nnet::app
