#include "mpi_parallel.h"

#include <mpi.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace nnet::app {

namespace {

// Message tags, one per kind of exchange; MPI keeps messages of one (source, tag) in order.
enum Tag { kTagChunks = 11, kTagSlices, kTagRows, kTagFlags, kTagExit };

struct Group {
  int rank = 0, size = 1;
  double timeout_s = 60;
  int err_fd = 2;
  long exchanges = 0;  // gradient exchanges so far (for NNET_MPI_TEST_FAULT)
  int fault_rank = -1;
  long fault_at = 0;
  std::string fault_kind;
  bool settled = false;  // the job's exit code is agreed
};

Group g;

// Outstanding requests and, for each, the peer it talks to and whether it is a receive.
struct Pending {
  std::vector<MPI_Request> req;
  std::vector<int> peer;
  std::vector<char> is_recv;
  void recv(void* buf, int count, MPI_Datatype t, int from, int tag) {
    if (count == 0) return;
    req.emplace_back();
    MPI_Irecv(buf, count, t, from, tag, MPI_COMM_WORLD, &req.back());
    peer.push_back(from);
    is_recv.push_back(1);
  }
  void send(const void* buf, int count, MPI_Datatype t, int to, int tag) {
    if (count == 0) return;
    req.emplace_back();
    MPI_Isend(buf, count, t, to, tag, MPI_COMM_WORLD, &req.back());
    peer.push_back(to);
    is_recv.push_back(0);
  }
  // Polls until every request completes; after timeout_s without any progress, aborts the job.
  void wait() {
    using Clock = std::chrono::steady_clock;
    const int n = static_cast<int>(req.size());
    std::vector<int> done(n);
    int left = n;
    auto last = Clock::now();
    int idle = 0;
    while (left > 0) {
      int outcount = 0;
      MPI_Testsome(n, req.data(), &outcount, done.data(), MPI_STATUSES_IGNORE);
      if (outcount == MPI_UNDEFINED) break;
      if (outcount > 0) {
        left -= outcount;
        last = Clock::now();
        idle = 0;
        continue;
      }
      // Spin briefly (a step of a small net is microseconds), then sleep to give the cores back.
      if (++idle > 200)
        std::this_thread::sleep_for(std::chrono::microseconds(idle > 2000 ? 500 : 20));
      if (std::chrono::duration<double>(Clock::now() - last).count() > g.timeout_s) {
        int q = -1;
        bool recv = false;
        for (int i = 0; i < n && q < 0; ++i)
          if (req[i] != MPI_REQUEST_NULL && is_recv[i]) q = peer[i], recv = true;
        for (int i = 0; i < n && q < 0; ++i)
          if (req[i] != MPI_REQUEST_NULL) q = peer[i];
        const std::string what = recv ? "no message from rank " : "rank ";
        const std::string line = "nnet-mpi: rank " + std::to_string(g.rank) + ": " + what +
                                 std::to_string(q) + (recv ? "" : " took no message") + " for " +
                                 std::to_string(static_cast<long>(g.timeout_s)) + " s; aborting\n";
        ssize_t ignored = write(g.err_fd, line.data(), line.size());
        (void)ignored;
        MPI_Abort(MPI_COMM_WORLD, kMpiPeerLost);
      }
    }
    req.clear();
    peer.clear();
    is_recv.clear();
  }
};

void maybe_fault() {
  ++g.exchanges;
  if (g.rank != g.fault_rank || g.exchanges != g.fault_at) return;
  if (g.fault_kind == "kill") raise(SIGKILL);
  if (g.fault_kind == "exit") _exit(3);
  if (g.fault_kind == "hang")
    for (;;) pause();
}

// Reduce-scatter by chunk-ordered sums, then all-gather of the summed slices (distributed.h).
Status mpi_sum_chunks(const float* local, size_t chunks, size_t width, float* sum) {
  maybe_fault();
  const int K = g.size, r = g.rank;
  const Range mine = share(chunks, r, K);
  const Range my_slice = share(width, r, K);
  std::vector<float> recv(chunks * my_slice.size());  // (chunks, my slice) in chunk order
  std::vector<std::vector<float>> out(K);
  Pending p;
  for (int q = 0; q < K; ++q) {
    const Range theirs = share(chunks, q, K);
    float* into = recv.data() + theirs.begin * my_slice.size();
    if (q == r) {
      pack_slice(local, mine.size(), width, my_slice, into);
      continue;
    }
    p.recv(into, static_cast<int>(theirs.size() * my_slice.size()), MPI_FLOAT, q, kTagChunks);
    const Range slice = share(width, q, K);
    out[q].resize(mine.size() * slice.size());
    pack_slice(local, mine.size(), width, slice, out[q].data());
    p.send(out[q].data(), static_cast<int>(out[q].size()), MPI_FLOAT, q, kTagChunks);
  }
  p.wait();
  nnet::sum_chunks(recv.data(), chunks, my_slice.size(), my_slice.size(), sum + my_slice.begin);
  for (int q = 0; q < K; ++q) {
    if (q == r) continue;
    const Range slice = share(width, q, K);
    p.recv(sum + slice.begin, static_cast<int>(slice.size()), MPI_FLOAT, q, kTagSlices);
    p.send(sum + my_slice.begin, static_cast<int>(my_slice.size()), MPI_FLOAT, q, kTagSlices);
  }
  p.wait();
  return Status::Ok();
}

Status mpi_allgather(double* all, size_t items, size_t width) {
  const int K = g.size, r = g.rank;
  const Range mine = share(items, r, K);
  Pending p;
  for (int q = 0; q < K; ++q) {
    if (q == r) continue;
    const Range theirs = share(items, q, K);
    p.recv(all + theirs.begin * width, static_cast<int>(theirs.size() * width), MPI_DOUBLE, q,
           kTagRows);
    p.send(all + mine.begin * width, static_cast<int>(mine.size() * width), MPI_DOUBLE, q,
           kTagRows);
  }
  p.wait();
  return Status::Ok();
}

// Every process sends `value` to every other; returns the largest.
int max_over_ranks(int value, int tag) {
  std::vector<int> got(g.size, value);
  Pending p;
  for (int q = 0; q < g.size; ++q) {
    if (q == g.rank) continue;
    p.recv(&got[q], 1, MPI_INT, q, tag);
    p.send(&value, 1, MPI_INT, q, tag);
  }
  p.wait();
  int m = value;
  for (int v : got) m = std::max(m, v);
  return m;
}

}  // namespace

Parallel make_mpi_parallel(double timeout_s, int err_fd) {
  MPI_Comm_rank(MPI_COMM_WORLD, &g.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g.size);
  g.timeout_s = timeout_s;
  g.err_fd = err_fd;
  if (const char* f = std::getenv("NNET_MPI_TEST_FAULT")) {
    int rank = -1;
    long at = 0;
    char kind[16] = {0};
    if (std::sscanf(f, "%d:%ld:%15s", &rank, &at, kind) == 3) {
      g.fault_rank = rank;
      g.fault_at = at;
      g.fault_kind = kind;
    }
  }
  Parallel p;
  p.rank = g.rank;
  p.size = g.size;
  p.collective.rank = g.rank;
  p.collective.size = g.size;
  p.collective.sum_chunks = mpi_sum_chunks;
  p.collective.allgather = mpi_allgather;
  p.any = [](bool flag) { return max_over_ranks(flag ? 1 : 0, kTagFlags) != 0; };
  p.agree = agree_exit_code;
  return p;
}

int agree_exit_code(int code) {
  const int m = max_over_ranks(code, kTagExit);
  if (m != 0) g.settled = true;
  return m;
}

bool exit_code_settled() { return g.settled; }

}  // namespace nnet::app
