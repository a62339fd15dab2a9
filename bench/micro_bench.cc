// Google Benchmark micro-benchmarks of the hot kernels on the notebook's shapes: forward of a
// mini-batch, the fused backward+update SGD step, the portable forward+backward+update it
// replaces, and evaluation of 10,000 images. Synthetic data (uniform pixels), so no files needed.
//   build-perf/bench/micro_bench --benchmark_repetitions=5
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "nnet/network.h"
#include "nn/workspace.h"
#include "nnet/train.h"

namespace {

struct Fixture {
  nnet::Network net;
  nnet::Dataset data;
  std::vector<const float*> cols;  // (batch) image pointers
  std::vector<uint8_t> labels;     // (batch)
  nnet::Workspace ws;
  Fixture(int hidden, int batch, size_t n = 10000)
      : net(nnet::sigmoid_architecture({784, hidden, 10})) {
    nnet::init_params(net, nnet::Init::kLarge, 1);
    data.images.resize(n * 784);
    data.labels.resize(n);
    std::mt19937 g(1);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    for (float& v : data.images) v = u(g);
    for (auto& l : data.labels) l = static_cast<uint8_t>(g() % 10);
    cols.resize(batch);
    labels.resize(batch);
    for (int j = 0; j < batch; ++j) {
      cols[j] = data.image(static_cast<size_t>(j) * 37 % n);  // scattered, like a shuffle
      labels[j] = data.labels[j];
    }
    ws = nnet::make_workspace(net, batch);
  }
};

void set_flops(benchmark::State& st, double flops_per_iter) {
  // Shown as e.g. "45.3G/s": FLOPs per iteration times iterations per second.
  st.counters["FLOPS"] =
      benchmark::Counter(flops_per_iter, benchmark::Counter::kIsIterationInvariantRate);
}

// forward() on a gathered (784, m) batch: layer 0 dominates.
void BM_Forward(benchmark::State& st) {
  const int hidden = static_cast<int>(st.range(0)), m = static_cast<int>(st.range(1));
  Fixture f(hidden, m);
  nnet::ConstMatrixMap x(f.data.image(0), 784, m);  // (784, m)
  for (auto _ : st) {
    nnet::forward(f.net, x, m, f.ws);
    benchmark::DoNotOptimize(f.ws.a.back().data());
  }
  set_flops(st, 2.0 * m * (784.0 * hidden + hidden * 10.0));
}
BENCHMARK(BM_Forward)->Args({30, 10})->Args({100, 10})->Args({100, 100})->Args({30, 500});

// sgd_step(): forward + backward + update fused (what train() runs per mini-batch).
void BM_SgdStep(benchmark::State& st) {
  const int hidden = static_cast<int>(st.range(0)), m = static_cast<int>(st.range(1));
  Fixture f(hidden, m);
  nnet::SgdRule rule;
  rule.step = 1e-6 / m;  // tiny: the weights stay put over millions of iterations
  for (auto _ : st) {
    nnet::sgd_step<float>(f.net, f.cols.data(), f.labels.data(), m, f.ws, rule, nullptr);
    benchmark::DoNotOptimize(f.net.params().data());
  }
  set_flops(st,
            m * (2.0 * (784.0 * hidden + hidden * 10.0) + 4.0 * hidden * 10 + 2.0 * 784 * hidden));
}
BENCHMARK(BM_SgdStep)->Args({30, 10})->Args({100, 10})->Args({100, 100});

// The portable path: gather, Eigen forward/backward into a gradient buffer, separate update.
void BM_PortableStep(benchmark::State& st) {
  const int hidden = static_cast<int>(st.range(0)), m = static_cast<int>(st.range(1));
  Fixture f(hidden, m);
  Eigen::MatrixXf x(784, m), y(10, m);  // (784, m), (10, m)
  std::vector<float> grad(f.net.params().size());
  nnet::SgdRule rule;
  rule.step = 1e-6 / m;
  for (auto _ : st) {
    for (int j = 0; j < m; ++j) {
      x.col(j) = nnet::ConstVectorMap(f.cols[j], 784);
      y.col(j).setZero();
      y(f.labels[j], j) = 1.f;
    }
    std::fill(grad.begin(), grad.end(), 0.f);
    nnet::forward(f.net, x, m, f.ws);
    nnet::backward(f.net, x, y, m, f.ws, grad.data());
    nnet::apply_update<float>(f.net, grad.data(), rule, nullptr);
    benchmark::DoNotOptimize(f.net.params().data());
  }
}
BENCHMARK(BM_PortableStep)->Args({30, 10})->Args({100, 10});

// The update alone (apply_update over all parameters from a gradient buffer).
void BM_Update(benchmark::State& st) {
  Fixture f(static_cast<int>(st.range(0)), 1);
  std::vector<float> grad(f.net.params().size(), 1e-3f);
  nnet::SgdRule rule;
  rule.step = 1e-6;
  for (auto _ : st) {
    nnet::apply_update<float>(f.net, grad.data(), rule, nullptr);
    benchmark::DoNotOptimize(f.net.params().data());
  }
}
BENCHMARK(BM_Update)->Arg(30)->Arg(100);

// evaluate() over 10,000 images on 1 and 2 threads.
void BM_Evaluate(benchmark::State& st) {
  Fixture f(static_cast<int>(st.range(0)), 1);
  const int threads = static_cast<int>(st.range(1));
  for (auto _ : st) {
    auto r = nnet::evaluate(f.net, f.data, false, 0.0, false, threads);
    benchmark::DoNotOptimize(r.correct);
  }
  set_flops(st, 1e4 * 2.0 * (784.0 * st.range(0) + st.range(0) * 10.0));
}
BENCHMARK(BM_Evaluate)->Args({30, 1})->Args({30, 2})->Args({100, 1})->Args({100, 2})->UseRealTime();

}  // namespace

// The book's two conv layers (chapter 6): forward, backward_input and backward_params of
// conv:20:5 on 1x28x28 and conv:40:5 on 20x12x12, args {layer, batch, threads}.
#include "nn/conv.h"

void BM_Conv(benchmark::State& st) {
  nnet::conv::Geometry g;
  if (st.range(0) == 1) {
    g.c = 1, g.h = g.w = 28, g.filters = 20;
  } else {
    g.c = 20, g.h = g.w = 12, g.filters = 40;
  }
  g.k = 5;
  const int m = static_cast<int>(st.range(1)), threads = static_cast<int>(st.range(2));
  const int which = static_cast<int>(st.range(3));  // 0 forward, 1 backward_input, 2 params
  std::mt19937 gen(1);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  auto fill = [&](size_t n) {
    std::vector<float> v(n);
    for (float& x : v) x = u(gen);
    return v;
  };
  std::vector<float> x = fill(size_t(g.in_size()) * m), w = fill(size_t(g.filters) * g.patch()),
                     b = fill(g.filters), z = fill(size_t(g.out_size()) * m), dw = w, db = b;
  for (auto _ : st) {
    if (which == 0)
      nnet::conv::forward(g, w.data(), b.data(), x.data(), g.in_size(), m, z.data(), g.out_size(),
                          threads);
    else if (which == 1)
      nnet::conv::backward_input(g, w.data(), z.data(), g.out_size(), m, x.data(), g.in_size(),
                                 threads);
    else
      nnet::conv::backward_params(g, x.data(), g.in_size(), z.data(), g.out_size(), m, dw.data(),
                                  db.data(), threads);
    benchmark::ClobberMemory();
  }
  set_flops(st, 2.0 * m * g.filters * g.patch() * g.out_h() * g.out_w());
}
BENCHMARK(BM_Conv)
    ->ArgNames({"layer", "m", "threads", "fwd0_dx1_dw2"})
    ->ArgsProduct({{1, 2}, {10, 64}, {1, 2}, {0, 1, 2}});

// One SGD step of the book's two-conv ReLU net (conv:20:5,maxpool:2,conv:40:5,maxpool:2,fc:100,
// softmax:10), args {batch, conv threads (0 = the default: all cores)}: what `nnet train` spends
// per mini-batch, conv kernels and everything between them. Real time (threads run in parallel).
#include "nnet/layers.h"

void BM_ConvNetStep(benchmark::State& st) {
  const int m = static_cast<int>(st.range(0));
  nnet::Architecture arch;
  arch.cost = nnet::Cost::kLogLikelihood;
  arch.input = nnet::Shape{1, 28, 28};
  if (!nnet::parse_layers("conv:20:5,maxpool:2,conv:40:5,maxpool:2,fc:100,softmax:10",
                          {nnet::Activation::kRelu}, &arch.layers)
           .ok())
    return st.SkipWithError("layers");
  nnet::Network net(arch);
  nnet::init_params(net, nnet::Init::kNetwork3, 1);
  const size_t n = 1000;
  std::vector<float> images(n * 784);
  std::mt19937 g(1);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  for (float& v : images) v = u(g);
  std::vector<const float*> cols(m);
  std::vector<uint8_t> labels(m);
  nnet::Workspace ws = nnet::make_workspace(net, m);
  ws.threads = static_cast<int>(st.range(1));
  nnet::SgdRule rule;
  rule.step = 0.03 / m;
  size_t next = 0;
  for (auto _ : st) {
    for (int j = 0; j < m; ++j, next = (next + 37) % n) {
      cols[j] = images.data() + next * 784;
      labels[j] = static_cast<uint8_t>(next % 10);
    }
    nnet::sgd_step(net, cols.data(), labels.data(), m, ws, rule, static_cast<float*>(nullptr));
    benchmark::ClobberMemory();
  }
  set_flops(st, m * 9222000.0);  // forward 3,266,000 + backward 5,956,000 per image
}
BENCHMARK(BM_ConvNetStep)
    ->ArgNames({"m", "threads"})
    ->ArgsProduct({{10, 64}, {1, 2, 0}})
    ->UseRealTime();
