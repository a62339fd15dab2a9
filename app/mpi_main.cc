// nnet-mpi: the nnet command line as one process of an MPI job. `train` runs data-parallel over
// all processes (docs/distributed.md); other subcommands run on rank 0 alone. Only rank 0 prints
// and writes files; the others keep a private copy of stderr for the watchdog's line.
#include <fcntl.h>
#include <mpi.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "commands.h"
#include "mpi_parallel.h"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  // --mpi-timeout S (anywhere on the line) belongs to nnet-mpi, not to the subcommands.
  double timeout_s = 60;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--mpi-timeout") == 0 && i + 1 < argc) {
      char* end = nullptr;
      timeout_s = std::strtod(argv[++i], &end);
      if (end == argv[i] || *end != '\0' || !(timeout_s > 0)) {
        std::fprintf(stderr, "nnet-mpi: --mpi-timeout: expected seconds > 0, found '%s'\n",
                     argv[i]);
        MPI_Finalize();
        return 2;
      }
      continue;
    }
    args.push_back(argv[i]);
  }
  args.push_back(nullptr);
  const int n = static_cast<int>(args.size()) - 1;
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  // Processes on this machine (a collective call, so every rank makes it before any leaves).
  int local_size = 1;
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  MPI_Comm_size(node, &local_size);
  MPI_Comm_free(&node);
  const bool train = n > 1 && std::strcmp(args[1], "train") == 0;
  if (rank > 0 && !train) {  // only `train` is shared out
    MPI_Finalize();
    return 0;
  }
  int err_fd = 2;
  if (rank > 0) {
    err_fd = dup(2);
    const int null_fd = open("/dev/null", O_WRONLY);
    dup2(null_fd, 1);
    dup2(null_fd, 2);
    close(null_fd);
  }
  nnet::app::Parallel group = nnet::app::make_mpi_parallel(timeout_s, err_fd);
  group.local_size = local_size;
  if (train) nnet::app::set_parallel(&group);
  int code = nnet::app::run_cli(n, args.data());
  std::fflush(stdout);
  if (train && !nnet::app::exit_code_settled()) code = nnet::app::agree_exit_code(code);
  MPI_Finalize();
  return code;
}
