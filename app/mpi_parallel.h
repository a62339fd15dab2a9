// nnet-mpi's process group over MPI: the deterministic exchanges of distributed.h with
// point-to-point messages, and a watchdog that ends the whole job when a peer goes silent.
#pragma once

#include "parallel.h"

namespace nnet::app {

// Exit code of a job ended by the watchdog (a peer died or hangs); EX_TEMPFAIL.
inline constexpr int kMpiPeerLost = 75;

// Builds the group of MPI_COMM_WORLD (MPI already initialised). Every wait lasts at most
// `timeout_s` seconds without a message from the peer it waits for; then the process prints
// "nnet-mpi: rank R: no message from rank Q for S s; aborting" on `err_fd` and calls MPI_Abort
// with kMpiPeerLost. NNET_MPI_TEST_FAULT=R:N:kill|exit|hang (tests only) makes rank R die, exit
// or hang at its N-th gradient exchange.
Parallel make_mpi_parallel(double timeout_s, int err_fd);

// Agrees on the job's exit code: the largest `code` over all processes (bounded by the watchdog).
// Once it has returned non-zero the code is settled and exit_code_settled() is true.
int agree_exit_code(int code);
bool exit_code_settled();

}  // namespace nnet::app
