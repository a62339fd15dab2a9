// The process group of a data-parallel run: nnet-mpi (app/mpi_main.cc) sets it before the CLI
// runs; in the plain nnet binary there is none and parallel() is null. Nothing here needs MPI.
#pragma once

#include <functional>

#include "nnet/distributed.h"

namespace nnet::app {

struct Parallel {
  int rank = 0;           // this process
  int size = 1;           // processes
  int local_size = 1;     // processes on this machine (they share its cores)
  Collective collective;  // the exchanges train() uses (TrainCallbacks::collective)
  // True on every process when `flag` is true on any; called by all processes in step.
  std::function<bool(bool flag)> any;
  // The largest `code` over all processes; every process calls it once before training (with 0)
  // and once on exit, so a process that fails early meets the others' pre-training call.
  std::function<int(int code)> agree;
};

// The group this process belongs to, or null for a single process (plain nnet).
const Parallel* parallel();
void set_parallel(const Parallel* p);

}  // namespace nnet::app
