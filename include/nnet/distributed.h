// Data-parallel training without MPI: how a mini-batch splits into fixed gradient chunks, which
// chunks and which parameter slices each of K processes owns, and the one summation order that
// makes the summed gradient the same for any K. Moving the numbers between processes is the
// caller's (nnet-mpi does it with MPI in app/parallel.cc); the library never links MPI.
#pragma once

#include <cstddef>
#include <functional>

#include "nnet/status.h"

namespace nnet {

// A half-open range [begin, end) of indices.
struct Range {
  size_t begin = 0;
  size_t end = 0;
  size_t size() const { return end - begin; }
};

// The share of `n` items owned by process `rank` of `size`: contiguous, in rank order, covering
// 0..n-1 exactly once over all ranks, sizes differing by at most one (earlier ranks larger).
Range share(size_t n, int rank, int size);

// The chunk size of a data-parallel run that names none. Fixed, so the chunking, and with it the
// result, is the same for any process count: K processes give the bytes of one process with
// chunks of this size. 5 cuts the book's batch of 10 in two.
inline constexpr int kDefaultGradChunk = 5;

// A mini-batch of m samples in chunks of c (c >= 1): ceil(m / c) chunks; chunk i holds samples
// [i*c, min(m, (i+1)*c)) of the mini-batch.
size_t chunk_count(size_t m, size_t c);
Range chunk_samples(size_t m, size_t c, size_t i);

// The summation order every process uses: out[e] = ((x_0[e] + x_1[e]) + x_2[e]) + ... for
// e in [0, width), where row k is x + k*stride (float adds, left to right). chunks == 0 zeroes out.
void sum_chunks(const float* x, size_t chunks, size_t width, size_t stride, float* out);

// How processes exchange numbers during train() (TrainCallbacks::collective). Unset (size 1)
// means one process. Every process calls each function the same number of times with the same
// sizes; an error Status ends training on that process.
struct Collective {
  int rank = 0;  // this process, 0..size-1
  int size = 1;  // processes
  // `local` holds this process's chunks, share(chunks, rank, size), one after another, `width`
  // floats each. On return `sum` (width floats) must hold, on every process, what sum_chunks gives
  // over all `chunks` rows in chunk order (see reduce_scatter_slice for one way).
  std::function<Status(const float* local, size_t chunks, size_t width, float* sum)> sum_chunks;
  // `all` holds `items` rows of `width` doubles; on entry the rows share(items, rank, size) are
  // filled; on return every row must be, on every process.
  std::function<Status(double* all, size_t items, size_t width)> allgather;
  bool active() const { return size > 1 && sum_chunks && allgather; }
};

// The bandwidth-optimal deterministic exchange (reduce-scatter then all-gather), in pieces:
// process r owns the parameter slice share(width, r, size). pack_slice copies the elements
// `slice` of each of `count` local chunks (width floats each) to out, one after another;
// a process receiving the packed slices of all processes in rank order holds its slice of every
// chunk in chunk order, sums them with sum_chunks(recv, chunks, slice.size(), slice.size(), ...)
// and then all processes exchange their summed slices.
void pack_slice(const float* local, size_t count, size_t width, Range slice, float* out);

}  // namespace nnet
