// SIGINT/SIGTERM during training: the first signal asks training to stop after the current
// mini-batch (it then saves a checkpoint); a second one exits at once with status 130.
#pragma once

namespace nnet::app {

// Installs the handlers for SIGINT and SIGTERM (idempotent).
void install_interrupt_handlers();

// True once SIGINT or SIGTERM has arrived since install_interrupt_handlers().
bool interrupt_requested();

}  // namespace nnet::app
