// Data-parallel pieces without MPI: the partitions, the chunk-ordered sum, the reduce-scatter
// packing, and train() run by K threads that share chunks through an in-memory Collective,
// which must end with exactly the weights of one process (the property nnet-mpi relies on).
#include "nnet/distributed.h"

#include <gtest/gtest.h>

#include <barrier>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

#include "nnet/layers.h"
#include "nnet/network.h"
#include "nnet/train.h"

namespace nnet {
namespace {

TEST(Distributed, ShareCoversEveryItemOnceInRankOrderBalanced) {
  for (size_t n : {0, 1, 2, 5, 10, 13, 64, 1001})
    for (int k = 1; k <= 7; ++k) {
      size_t next = 0, lo = n, hi = 0;
      for (int r = 0; r < k; ++r) {
        const Range s = share(n, r, k);
        EXPECT_EQ(s.begin, next) << "n=" << n << " k=" << k << " r=" << r;
        next = s.end;
        lo = std::min(lo, s.size());
        hi = std::max(hi, s.size());
      }
      EXPECT_EQ(next, n);
      EXPECT_LE(hi - std::min(lo, hi), 1u) << "n=" << n << " k=" << k;
    }
}

TEST(Distributed, ChunksOfAMiniBatchIncludingAShortLastOne) {
  EXPECT_EQ(chunk_count(10, 5), 2u);
  EXPECT_EQ(chunk_count(11, 5), 3u);
  EXPECT_EQ(chunk_count(1, 5), 1u);
  const Range last = chunk_samples(11, 5, 2);
  EXPECT_EQ(last.begin, 10u);
  EXPECT_EQ(last.end, 11u);
  const Range mid = chunk_samples(11, 5, 1);
  EXPECT_EQ(mid.begin, 5u);
  EXPECT_EQ(mid.end, 10u);
}

TEST(Distributed, SumChunksIsALeftFoldInChunkOrder) {
  // (1e8 + 1) + -1e8 = 0 in float, but 1e8 + (1 + -1e8) = 0 too and (1e8 + -1e8) + 1 = 1:
  // the order shows.
  const float x[3] = {1e8f, 1.0f, -1e8f};
  float out = -1;
  sum_chunks(x, 3, 1, 1, &out);
  EXPECT_EQ(out, (1e8f + 1.0f) + -1e8f);
  const float y[3] = {1e8f, -1e8f, 1.0f};
  sum_chunks(y, 3, 1, 1, &out);
  EXPECT_EQ(out, 1.0f);
  sum_chunks(y, 0, 1, 1, &out);
  EXPECT_EQ(out, 0.0f);
}

// The reduce-scatter + all-gather of app/mpi_parallel.cc, played out in memory: every rank's
// slice summed from the packed slices of all ranks equals sum_chunks over all chunks, bit for
// bit, for any K.
TEST(Distributed, ReduceScatterOfPackedSlicesEqualsTheSingleProcessSum) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 100.0f);
  for (size_t chunks : {1, 2, 3, 7, 13}) {
    const size_t width = 37;
    std::vector<float> all(chunks * width);
    for (float& v : all) v = nd(rng);
    std::vector<float> want(width);
    sum_chunks(all.data(), chunks, width, width, want.data());
    for (int K = 1; K <= 5; ++K) {
      std::vector<float> got(width, NAN);
      for (int r = 0; r < K; ++r) {
        const Range slice = share(width, r, K);
        std::vector<float> recv(chunks * slice.size());
        for (int q = 0; q < K; ++q) {
          const Range theirs = share(chunks, q, K);
          pack_slice(all.data() + theirs.begin * width, theirs.size(), width, slice,
                     recv.data() + theirs.begin * slice.size());
        }
        sum_chunks(recv.data(), chunks, slice.size(), slice.size(), got.data() + slice.begin);
      }
      for (size_t e = 0; e < width; ++e)
        ASSERT_EQ(got[e], want[e]) << "chunks=" << chunks << " K=" << K << " e=" << e;
    }
  }
}

// 28x28 images where class k brightens a block of its own, plus noise.
Dataset synthetic(size_t n, uint32_t seed) {
  Dataset d;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 0.3f);
  for (size_t i = 0; i < n; ++i) {
    const int k = static_cast<int>((i * 7 + seed) % 10);
    std::vector<float> img(784);
    for (float& p : img) p = u(rng);
    const int r0 = 2 + (k / 5) * 12, c0 = 2 + (k % 5) * 5;
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 4; ++c) img[(r0 + r) * 28 + c0 + c] = 1.0f;
    d.images.insert(d.images.end(), img.begin(), img.end());
    d.labels.push_back(static_cast<uint8_t>(k));
  }
  return d;
}

// K threads sharing chunks through memory: each publishes its rows, waits for all, reads them.
struct MemoryGroup {
  explicit MemoryGroup(int k) : size(k), sync(k), locals(k), rows(k) {}
  int size;
  std::barrier<> sync;
  std::vector<const float*> locals;
  std::vector<double*> rows;

  Collective member(int rank) {
    Collective c;
    c.rank = rank;
    c.size = size;
    c.sum_chunks = [this, rank](const float* local, size_t chunks, size_t width, float* sum) {
      locals[rank] = local;
      sync.arrive_and_wait();
      std::vector<float> all(chunks * width);
      for (int q = 0; q < size; ++q) {
        const Range s = share(chunks, q, size);
        std::copy(locals[q], locals[q] + s.size() * width, all.begin() + s.begin * width);
      }
      sync.arrive_and_wait();  // nobody reuses its buffer before everyone has read it
      nnet::sum_chunks(all.data(), chunks, width, width, sum);
      return Status::Ok();
    };
    c.allgather = [this, rank](double* all, size_t items, size_t width) {
      rows[rank] = all;
      sync.arrive_and_wait();
      for (int q = 0; q < size; ++q) {
        const Range s = share(items, q, size);
        if (q != rank)
          std::copy(rows[q] + s.begin * width, rows[q] + s.end * width, all + s.begin * width);
      }
      sync.arrive_and_wait();
      return Status::Ok();
    };
    return c;
  }
};

struct Outcome {
  std::vector<float> params;
  std::vector<EpochReport> history;
};

Outcome train_in(int K, const Architecture& arch, Init init, const TrainOptions& opts,
                 const Dataset& train_set, const Dataset& eval_set) {
  MemoryGroup group(K);
  std::vector<Outcome> runs(K);
  std::vector<Status> status(K);
  std::vector<std::thread> threads;
  for (int r = 0; r < K; ++r)
    threads.emplace_back([&, r] {
      Network net(arch);
      init_params(net, init, opts.seed);
      TrainCallbacks cb;
      if (K > 1) cb.collective = group.member(r);
      TrainState st = initial_state(net, train_set.size(), opts);
      status[r] = train(net, train_set, &eval_set, opts, cb, &st);
      runs[r] = {net.params(), st.history};
    });
  for (auto& t : threads) t.join();
  for (int r = 0; r < K; ++r) {
    EXPECT_TRUE(status[r].ok()) << status[r].message();
    EXPECT_EQ(runs[r].params, runs[0].params) << "rank " << r << " of " << K;
  }
  return runs[0];
}

void expect_same(const Outcome& a, const Outcome& b, int K) {
  ASSERT_EQ(a.params.size(), b.params.size());
  size_t differ = 0;
  for (size_t i = 0; i < a.params.size(); ++i) differ += a.params[i] != b.params[i];
  EXPECT_EQ(differ, 0u) << "K=" << K << ": weights not bit-identical to one process";
  ASSERT_EQ(a.history.size(), b.history.size());
  for (size_t e = 0; e < a.history.size(); ++e) {
    EXPECT_EQ(a.history[e].evaluation_correct, b.history[e].evaluation_correct);
    EXPECT_EQ(a.history[e].evaluation_cost, b.history[e].evaluation_cost);
    EXPECT_EQ(a.history[e].training_cost, b.history[e].training_cost);
  }
}

TEST(Distributed, DenseTrainingIsBitIdenticalForAnyProcessCount) {
  const Dataset tr = synthetic(1003, 1),
                ev = synthetic(1100, 2);  // short last batch; 3 eval chunks
  TrainOptions o;
  o.epochs = 2;
  o.batch = 10;
  o.eta = 1.0;
  o.grad_chunk = 3;  // chunks of 3, 3, 3, 1 per batch of 10
  o.dropout = 0.2;   // masks drawn once per batch on every process
  o.momentum = 0.5;
  o.lambda = 0.1;
  o.monitor_evaluation_cost = o.monitor_training_cost = true;
  o.record_gradients = true;
  const Architecture arch = sigmoid_architecture({784, 30, 20, 10}, Cost::kCrossEntropy);
  const Outcome one = train_in(1, arch, Init::kDefault, o, tr, ev);
  EXPECT_GT(one.history.back().evaluation_correct, 550);  // it learns (chance: 110)
  for (int K : {2, 3, 5}) expect_same(one, train_in(K, arch, Init::kDefault, o, tr, ev), K);
}

TEST(Distributed, ConvStackTrainingIsBitIdenticalForAnyProcessCount) {
  const Dataset tr = synthetic(64, 3), ev = synthetic(200, 4);
  TrainOptions o;
  o.epochs = 1;
  o.batch = 16;
  o.eta = 0.1;
  o.grad_chunk = 5;
  Architecture arch;
  arch.cost = Cost::kLogLikelihood;
  ASSERT_TRUE(parse_layers("conv:3:5,maxpool:2,dropout:0.1,fc:12,softmax:10", {Activation::kRelu},
                           &arch.layers)
                  .ok());
  const Outcome one = train_in(1, arch, Init::kNetwork3, o, tr, ev);
  for (int K : {2, 3}) expect_same(one, train_in(K, arch, Init::kNetwork3, o, tr, ev), K);
}

// nnet-mpi's default chunk: batch 11 (chunks 5, 5, 1) is split evenly over neither 2 nor 3
// processes, and 1000 samples end with a short batch of 10.
TEST(Distributed, DefaultChunkIsBitIdenticalForAnyProcessCount) {
  const Dataset tr = synthetic(1000, 7), ev = synthetic(300, 8);
  TrainOptions o;
  o.epochs = 2;
  o.batch = 11;
  o.eta = 1.0;
  o.grad_chunk = kDefaultGradChunk;
  const Architecture arch = sigmoid_architecture({784, 20, 10}, Cost::kCrossEntropy);
  const Outcome one = train_in(1, arch, Init::kDefault, o, tr, ev);
  EXPECT_GT(one.history.back().evaluation_correct, 120);  // it learns (chance: 30)
  for (int K : {2, 3}) expect_same(one, train_in(K, arch, Init::kDefault, o, tr, ev), K);
}

TEST(Distributed, ChunkedGradientMatchesTheWholeBatchUpToRounding) {
  const Dataset tr = synthetic(100, 5), ev = synthetic(100, 6);
  TrainOptions o;
  o.epochs = 1;
  o.batch = 10;
  o.eta = 1.0;
  const Architecture arch = sigmoid_architecture({784, 16, 10});
  const Outcome whole = train_in(1, arch, Init::kDefault, o, tr, ev);
  o.grad_chunk = 4;
  const Outcome chunked = train_in(1, arch, Init::kDefault, o, tr, ev);
  double worst = 0;
  for (size_t i = 0; i < whole.params.size(); ++i)
    worst = std::max(worst, std::abs(double(whole.params[i]) - chunked.params[i]));
  EXPECT_LT(worst, 1e-4);  // float summation order only
}

TEST(Distributed, ASharedRunNeedsChunks) {
  const Dataset tr = synthetic(20, 1);
  Network net(sigmoid_architecture({784, 5, 10}));
  TrainOptions o;
  o.epochs = 1;
  MemoryGroup group(1);
  TrainCallbacks cb;
  cb.collective = group.member(0);
  cb.collective.size = 2;  // as a member of two processes, without --grad-chunk
  TrainState st = initial_state(net, tr.size(), o);
  const Status s = train(net, tr, nullptr, o, cb, &st);
  EXPECT_EQ(s.code(), Code::kUsage);
  // The library names the option; the CLI respells it as the flag (with_flags).
  EXPECT_EQ(s.message().rfind("grad_chunk: expected C >= 1", 0), 0u) << s.message();
}

}  // namespace
}  // namespace nnet
